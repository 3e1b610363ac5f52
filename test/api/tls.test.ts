import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAccount } from '../../src/accounts/bootstrap.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { productionParts } from '../../src/parts.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { readOwner } from '../../src/store/process-lock.js';
import { spawnTs } from '../helpers/process.js';

/**
 * Built-in HTTPS (TLS_CERT / TLS_KEY) over real TLS sockets: phone files on the lean front door and on node:http,
 * the API, TLS 1.1 refused, the certificate reloaded when its files change, and a clear error for a bad pair.
 * Certificates are made at test time with openssl (self-signed, for 127.0.0.1).
 */
const work = mkdtempSync(path.join(tmpdir(), 'tls-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Pair {
  cert: Buffer;
  key: Buffer;
  fingerprint: string;
}
function makePair(name: string): Pair {
  const certFile = path.join(work, `${name}.crt`);
  const keyFile = path.join(work, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  const cert = readFileSync(certFile);
  return { cert, key: readFileSync(keyFile), fingerprint: new X509Certificate(cert).fingerprint256 };
}

let A: Pair;
let B: Pair;
beforeAll(() => {
  A = makePair('first');
  B = makePair('second');
});

/** Writes a file the way a renewal does: a new file renamed over the old one. */
function replaceFile(file: string, bytes: Buffer | string) {
  writeFileSync(`${file}.new`, bytes);
  renameSync(`${file}.new`, file);
}

let running: RunningServer | undefined;
let logs: string[] = [];
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(env: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(work, 'srv-'));
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  writeFileSync(certFile, A.cert);
  writeFileSync(keyFile, A.key);
  const config = loadConfig({
    DATA_DIR: path.join(dir, 'data'), PORT: '0', HOST: '127.0.0.1', SIP_BACKEND: 'none', TLS_CERT: certFile, TLS_KEY: keyFile, ...env,
  });
  logs = [];
  running = await startServer(config, createLogger('info', (l) => logs.push(l)), { provisioning: productionParts.provisioning });
  const boot = await bootstrapAccount(running.store, { name: 'Master', realm: 'master.test', username: 'admin', password: 'admin-pass' });
  return { port: running.port, certFile, keyFile, dataDir: config.dataDir, accountId: boot.account_id, apiKey: boot.api_key };
}

interface Answer {
  status: number;
  body: string;
  fingerprint: string;
  protocol: string | null;
}
/** One request over a real TLS connection that verifies the server against both test certificates. */
function call(port: number, method: string, target: string, opts: { headers?: Record<string, string>; body?: unknown; agent?: https.Agent } = {}): Promise<Answer> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1', port, method, path: target, ca: [A.cert, B.cert], agent: opts.agent ?? false,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      },
      (res) => {
        const socket = res.socket as tls.TLSSocket;
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        const protocol = socket.getProtocol();
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text, fingerprint, protocol }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The certificate a fresh TLS connection is served. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: [A.cert, B.cert] }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/** A TLS 1.1-only client (SECLEVEL=0 so that OpenSSL offers it at all): resolves with the protocol or the error. */
function connectTls11(port: number): Promise<{ protocol?: string | null; error?: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port, ca: [A.cert, B.cert], minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
      () => {
        resolve({ protocol: socket.getProtocol() });
        socket.destroy();
      },
    );
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

/** Resolves on the reloader's next attempt with outcome `ok`; fails rather than waits forever. */
function nextReload(ok: boolean): Promise<void> {
  const reloader = running!.tls!;
  return new Promise((resolve, reject) => {
    const failAfter = setTimeout(() => reject(new Error(`no reload event with ${ok} (the watcher did not fire)`)), 5000);
    const onReload = (result: boolean) => {
      if (result !== ok) return;
      clearTimeout(failAfter);
      reloader.off('reload', onReload);
      resolve();
    };
    reloader.on('reload', onReload);
  });
}

async function tokenFor(port: number, apiKey: string) {
  const auth = await call(port, 'PUT', '/v2/api_auth', { body: { data: { api_key: apiKey } } });
  expect(auth.status).toBe(201);
  return JSON.parse(auth.body).auth_token as string;
}

async function createPhone(port: number, accountId: string, token: string) {
  const made = await call(port, 'PUT', `/v2/accounts/${accountId}/devices`, {
    headers: { 'X-Auth-Token': token },
    body: { data: { name: 'Desk', mac_address: '80:5e:c0:d5:7d:72', sip: { username: 'desk1', password: 'desk-secret' }, provision: { endpoint_brand: 'yealink', endpoint_model: 'T54W' } } },
  });
  expect(made.status).toBe(201);
}
const PHONE = { 'User-Agent': 'Yealink SIP-T54W 96.86.0.100 80:5e:c0:d5:7d:72' };

describe('built-in HTTPS', () => {
  it('serves the API and phone files over TLS 1.2+, the phone fetch on the lean front door (replayed on keep-alive)', async () => {
    const s = await start();
    const token = await tokenFor(s.port, s.apiKey);
    await createPhone(s.port, s.accountId, token);
    const front = running!.front!;
    const servedBefore = front.served;
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await call(s.port, 'GET', '/provision/805ec0d57d72.cfg', { headers: PHONE, agent });
      expect(first.status).toBe(200);
      expect(first.body).toMatch(/account\.1\.password\s*=\s*desk-secret/);
      expect(first.fingerprint).toBe(A.fingerprint);
      expect(first.protocol).toMatch(/^TLSv1\.[23]$/);
      const second = await call(s.port, 'GET', '/provision/805ec0d57d72.cfg', { headers: PHONE, agent });
      expect(second.body).toBe(first.body);
    } finally {
      agent.destroy();
    }
    expect(front.served - servedBefore).toBe(2);
    expect(front.replayed).toBe(1);
    // The API went through the hand-off to node:http on TLS sockets.
    expect(front.handedOff).toBeGreaterThanOrEqual(2);
    const list = await call(s.port, 'GET', `/v2/accounts/${s.accountId}/devices`, { headers: { 'X-Auth-Token': token } });
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body).data).toHaveLength(1);
  });

  it('serves phone files over TLS with the front door off (node:http only)', async () => {
    const s = await start({ PROVISION_FAST_PATH: '0' });
    expect(running!.front).toBeUndefined();
    await createPhone(s.port, s.accountId, await tokenFor(s.port, s.apiKey));
    const cfg = await call(s.port, 'GET', '/provision/805ec0d57d72.cfg', { headers: PHONE });
    expect(cfg.status).toBe(200);
    expect(cfg.body).toContain('desk-secret');
  });

  it('refuses TLS 1.1 (a server that allows it accepts the very same client)', async () => {
    const control = tls.createServer({ cert: A.cert, key: A.key, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (socket) => socket.end());
    await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
    try {
      expect(await connectTls11((control.address() as { port: number }).port)).toEqual({ protocol: 'TLSv1.1' });
    } finally {
      control.close();
    }
    const s = await start();
    const refused = await connectTls11(s.port);
    expect(refused.protocol).toBeUndefined();
    expect(refused.error).toMatch(/PROTOCOL_VERSION|protocol version|UNSUPPORTED_PROTOCOL/i);
  });

  it('serves a renewed certificate once its files are replaced, and still refuses TLS 1.1', async () => {
    const s = await start();
    expect(await servedFingerprint(s.port)).toBe(A.fingerprint);
    const reloaded = nextReload(true);
    replaceFile(s.keyFile, B.key);
    replaceFile(s.certFile, B.cert);
    await reloaded;
    expect(await servedFingerprint(s.port)).toBe(B.fingerprint);
    expect((await connectTls11(s.port)).protocol).toBeUndefined();
    expect(logs.some((l) => l.includes('certificate reloaded'))).toBe(true);
  });

  it('keeps serving the current certificate when the new files are not a usable pair, with a warning', async () => {
    const s = await start();
    // The watcher's way: a key that does not match the certificate.
    const refused = nextReload(false);
    replaceFile(s.keyFile, B.key);
    await refused;
    expect(await servedFingerprint(s.port)).toBe(A.fingerprint);
    expect(logs.some((l) => l.includes('"level":"warn"') && l.includes('still serving the previous one'))).toBe(true);
    // The reload itself, called directly: garbage is refused too; a good pair then goes in.
    replaceFile(s.certFile, 'not a certificate');
    expect(running!.tls!.reload()).toBe(false);
    expect(await servedFingerprint(s.port)).toBe(A.fingerprint);
    replaceFile(s.certFile, B.cert);
    expect(running!.tls!.reload()).toBe(true);
    expect(await servedFingerprint(s.port)).toBe(B.fingerprint);
    // The secret key never reaches the log.
    expect(logs.join('\n')).not.toContain(B.key.toString('utf8').split('\n')[1]);
  });

  it('stops startup with a configuration error for a missing, unreadable or mismatched pair', async () => {
    const dir = mkdtempSync(path.join(work, 'bad-'));
    const file = (name: string, bytes: Buffer | string) => {
      writeFileSync(path.join(dir, name), bytes);
      return path.join(dir, name);
    };
    const startWith = (cert: string, key: string) =>
      startServer(loadConfig({ DATA_DIR: path.join(dir, 'data'), PORT: '0', HOST: '127.0.0.1', SIP_BACKEND: 'none', TLS_CERT: cert, TLS_KEY: key }), createLogger('silent'));
    const goodCert = file('a.crt', A.cert);
    const goodKey = file('a.key', A.key);
    await expect(startWith(path.join(dir, 'missing.crt'), goodKey)).rejects.toThrow(/TLS_CERT .*missing\.crt: ENOENT/);
    await expect(startWith(goodCert, path.join(dir, 'missing.key'))).rejects.toThrow(/TLS_KEY .*missing\.key: ENOENT/);
    await expect(startWith(file('junk.crt', 'junk'), goodKey)).rejects.toThrow(ConfigError);
    await expect(startWith(goodCert, file('b.key', B.key))).rejects.toThrow(/not a usable PEM certificate and key/);
    expect(() => loadConfig({ TLS_CERT: goodCert })).toThrow(/TLS_CERT and TLS_KEY must be set together/);
    // The data directory was never taken: a good pair starts on it.
    running = await startWith(goodCert, goodKey);
    expect(await servedFingerprint(running.port)).toBe(A.fingerprint);
  });

  it('the CLI reaches a running HTTPS server over its loopback control endpoint', async () => {
    const s = await start();
    expect((await readOwner(s.dataDir))?.controlUrl).toBe(`https://127.0.0.1:${s.port}/internal`);
    const cli = spawnTs('src/cli.ts', ['create-account', 'Second', 'second.cli', 'boss', 'pw-2'], { DATA_DIR: s.dataDir });
    expect(await cli.exited).toBe(0);
    const created = JSON.parse(cli.stdout()) as { account_id: string };
    expect(running!.store.getAccount(created.account_id)?.name).toBe('Second');
  });

  it('npm start exits with a configuration error (exit code 2) for an unusable pair', async () => {
    const dir = mkdtempSync(path.join(work, 'main-'));
    const proc = spawnTs('src/main.ts', [], {
      DATA_DIR: path.join(dir, 'data'), PORT: '0', HOST: '127.0.0.1', SIP_BACKEND: 'none', TLS_CERT: path.join(dir, 'nope.crt'), TLS_KEY: path.join(dir, 'nope.key'),
    });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toMatch(/^configuration error: TLS_CERT .*nope\.crt: ENOENT/);
  });
});
