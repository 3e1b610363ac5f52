import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './postgres.js';

/**
 * Debian's nginx (installed by the pretest) as the cluster's load balancer, or as a plain file server for the
 * bench: a config in a temporary directory, listening on a free loopback port, run in the foreground
 * (`daemon off;`) so the PID we hold is its master, and stopped by that PID.
 */
export interface Nginx {
  url: string;
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** host:port of each node: an `upstream`, round robin, keep-alive connections to the nodes. */
  upstreams?: string[];
  /** Serve this directory as static files instead (bench: nginx alone serving the same files). */
  root?: string;
  workers?: number;
}

export function nginxConfig(dir: string, port: number, o: NginxOptions): string {
  const temp = (name: string) => path.join(dir, name);
  const location = o.upstreams
    ? `location / {
        proxy_pass http://nodes;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        # A node that is down is skipped for requests it never got; a write it may have seen is not re-sent.
        proxy_next_upstream error timeout;
        proxy_connect_timeout 2s;
      }`
    : `location / { root ${o.root}; }`;
  return `daemon off;
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes ${o.workers ?? 1};
pid ${temp('nginx.pid')};
error_log ${temp('error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  keepalive_requests 100000;
  default_type application/octet-stream;
  ${o.upstreams ? `upstream nodes {\n    ${o.upstreams.map((u) => `server ${u} max_fails=1 fail_timeout=2s;`).join('\n    ')}\n    keepalive 64;\n  }` : ''}
  server {
    listen 127.0.0.1:${port};
    ${location}
  }
}
`;
}

export async function startNginx(o: NginxOptions): Promise<Nginx> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'prov-nginx-'));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, sub));
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, port, o));
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when it accepts a connection (bounded attempts).
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const up = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (attempt > 200) {
      await stop();
      throw new Error(`nginx did not listen: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { url: `http://127.0.0.1:${port}`, port, pid: child.pid!, dir, stop };
}
