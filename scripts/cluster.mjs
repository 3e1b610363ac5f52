#!/usr/bin/env node
// A cluster on one machine, on loopback: PostgreSQL (Debian's server, temp dir), two nodes (src/main.ts with
// DATABASE_URL, embedded SIP on 127.0.0.61:5060 and 127.0.0.62:5060) and nginx as load balancer. Prints the URLs;
// Ctrl-C stops every process by its PID. Usage: node scripts/cluster.mjs   (needs postgresql and nginx installed)
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, startPostgres } from '../test/helpers/postgres.ts';
import { spawnServer } from '../test/helpers/process.ts';
import { startNginx } from '../test/helpers/nginx.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'prov-cluster-'));
const pg = await startPostgres();
const url = await createDatabase(pg.url, 'provisioner');
const secrets = path.join(root, 'secrets.key');
const node = (id, sip, dir) => spawnServer(dir, { DATABASE_URL: url, NODE_ID: id, SECRETS_KEY_FILE: secrets, SIP_BACKEND: 'embedded', SIP_ADDRESS: sip, SIP_PORT: '5060', TRUST_PROXY: '127.0.0.1' });
const a = await node('node-a', '127.0.0.61', path.join(root, 'a'));
// Only SECRETS_KEY_FILE is shared by file: the token key, revocations, template overrides and uploads are in PostgreSQL.
const b = await node('node-b', '127.0.0.62', path.join(root, 'b'));
const lb = await startNginx({ upstreams: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] });
console.log(`PostgreSQL   ${url.replace(/:[^:@/]+@/, ':***@')} (pid ${pg.pid})`);
console.log(`node-a       http://127.0.0.1:${a.port}  SIP 127.0.0.61:5060/udp (pid ${a.child.pid})`);
console.log(`node-b       http://127.0.0.1:${b.port}  SIP 127.0.0.62:5060/udp (pid ${b.child.pid})`);
console.log(`nginx        ${lb.url}  (pid ${lb.pid})  <- API and phones`);
console.log(`first account: DATA_DIR=${path.join(root, 'a')} DATABASE_URL=${url} SECRETS_KEY_FILE=${secrets} npm run --silent cli -- create-account <name> <realm> <user> <password>`);
const stop = async () => {
  await lb.stop();
  for (const n of [a, b]) {
    n.child.kill('SIGTERM');
    await n.exited;
  }
  await pg.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
