import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../lib.js';

/**
 * One real server process (src/main.ts, as `npm start` runs it) on a fresh DATA_DIR with the embedded SIP
 * registrar on loopback: what every drill attacks. It can be SIGKILLed and restarted on the same DATA_DIR,
 * and it reports its own event-loop stalls and memory through the loopback control endpoint.
 */
export interface Health {
  event_loop_max_ms: number;
  event_loop_p99_ms: number;
  rss_bytes: number;
  heap_used_bytes: number;
  max_rss_bytes: number;
}

export interface Seeded {
  accountId: string;
  realm: string;
  token: string;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export class DrillTarget {
  private child?: ChildProcess;
  private output = '';
  port = 0;
  sipPort = 0;

  private constructor(
    readonly dataDir: string,
    private readonly env: Record<string, string>,
  ) {}

  static async start(env: Record<string, string> = {}, dataDir?: string): Promise<DrillTarget> {
    const target = new DrillTarget(dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'drill-'))), env);
    target.sipPort = await freeUdpPort();
    await target.launch();
    return target;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  /** The server's stdout and stderr since the last (re)start. */
  get log(): string {
    return this.output;
  }

  private async launch(): Promise<void> {
    this.output = '';
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(ROOT, 'src/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(this.port || 0),
        DATA_DIR: this.dataDir,
        SIP_BACKEND: 'embedded',
        SIP_ADDRESS: '127.0.0.1',
        SIP_PORT: String(this.sipPort),
        LOG_LEVEL: 'info',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d) => (this.output += d));
    child.stderr!.on('data', (d) => (this.output += d));
    for (let waited = 0; ; waited += 50) {
      const match = /listening on https?:\/\/[\d.]+:(\d+)/.exec(this.output);
      if (match) {
        this.port = Number(match[1]);
        return;
      }
      if (child.exitCode !== null || waited > 60_000) {
        child.kill('SIGKILL');
        throw new Error(`drill server did not start: ${this.output.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async control(method: 'GET' | 'POST', route: string, body?: unknown): Promise<any> {
    const owner = JSON.parse(await readFile(path.join(this.dataDir, '.owner.json'), 'utf8')) as { controlUrl: string; controlSecret: string };
    const res = await fetch(`${owner.controlUrl}${route}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-control-secret': owner.controlSecret },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`control ${route}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  /** The server's figures; the heap after a full collection (the drill starts servers with --expose-gc). */
  health(): Promise<Health> {
    return this.control('GET', '/health?gc=1');
  }

  /**
   * Forgets the stalls seen so far (set-up work is not the attack's). The delay histogram drops its first
   * sample after a reset, so the attack starts a few sampling periods later.
   */
  async resetHealth(): Promise<Health> {
    const figures = await this.control('POST', '/health/reset');
    await new Promise((r) => setTimeout(r, 50));
    return figures;
  }

  /** An account with an admin token, made through the control endpoint and the real `/v2` login. */
  async seedAccount(realm = 'drills.example.com'): Promise<Seeded> {
    const made = await this.control('POST', '/create-account', { name: 'Drills', realm, username: 'admin', password: 'AdminPass-7781' });
    const auth = await this.api('PUT', '/v2/api_auth', '', { data: { api_key: made.api_key } });
    return { accountId: made.account_id, realm: made.realm, token: auth.body.auth_token };
  }

  async api(method: string, route: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.url}${route}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed };
  }

  async createDevice(seed: Seeded, fields: Record<string, unknown>): Promise<string> {
    const res = await this.api('PUT', `/v2/accounts/${seed.accountId}/devices`, seed.token, { data: fields });
    if (res.status !== 201) throw new Error(`device create failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.data.id as string;
  }

  /** SIGKILL, as an OOM killer or a power cut would. */
  async kill(): Promise<void> {
    const child = this.child!;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts the server again on the same DATA_DIR, HTTP port and SIP port. */
  async restart(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) await this.stop(false);
    await this.launch();
  }

  async stop(removeData = true): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (removeData) await rm(this.dataDir, { recursive: true, force: true });
  }
}
