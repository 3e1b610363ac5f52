import http from 'node:http';
import https from 'node:https';
import { loadConfig, type Config } from './config.js';
import { DomainEvents } from './domain/events.js';
import { Store } from './store/store.js';
import { acquireOwnership, readOwner } from './store/process-lock.js';
import { bootstrapAccount, type BootstrapRequest, type BootstrapResult } from './accounts/bootstrap.js';
import { KazooError } from './http/errors.js';
import { migrateToPostgres } from './store/migrate-to-postgres.js';
import { redactedUrl } from './store/postgres/connection.js';

const USAGE = 'usage: npm run --silent cli -- create-account <name> <realm> <username> <password>\n       npm run --silent cli -- migrate-to-postgres   (copies DATA_DIR into the empty database DATABASE_URL)';

/**
 * Maintenance commands. `create-account` works whether or not a server runs on the same DATA_DIR:
 * with a server, it asks the server (over its loopback control endpoint) to do the write; without one,
 * it takes the DATA_DIR itself for the duration of the write. Either way no one's writes are lost.
 */
async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  if (command === 'migrate-to-postgres' && args.length === 0) return migrate(loadConfig());
  if (command !== 'create-account' || args.length !== 4) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const [name, realm, username, password] = args as [string, string, string, string];
  const config = loadConfig();
  const result = await createAccountAnywhere(config, { name, realm, username, password });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * Copies DATA_DIR into DATABASE_URL, holding DATA_DIR meanwhile (a server running on it must be stopped first,
 * so nothing is written that the copy would miss). Prints what it copied, as JSON.
 */
async function migrate(config: Config): Promise<void> {
  if (!config.databaseUrl) return fail('migrate-to-postgres needs DATABASE_URL (the empty PostgreSQL database to copy DATA_DIR into)');
  const release = await acquireOwnership(config.dataDir, { pid: process.pid, kind: 'cli' });
  if (!release) return fail(`DATA_DIR ${config.dataDir} is in use by a running server: stop it, then migrate`);
  let outcome: { copied: unknown } | { error: string };
  try {
    outcome = { copied: await migrateToPostgres(config.dataDir, config.databaseUrl, config.secretsKeyFile) };
  } catch (err) {
    outcome = { error: (err as Error).message };
  } finally {
    await release();
  }
  if ('error' in outcome) fail(`migrate-to-postgres failed: ${outcome.error}`);
  process.stdout.write(`${JSON.stringify({ copied: outcome.copied, from: config.dataDir, to: redactedUrl(config.databaseUrl) })}\n`);
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function createAccountAnywhere(config: Config, request: BootstrapRequest): Promise<BootstrapResult> {
  const { dataDir } = config;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const owner = await readOwner(dataDir);
    if (owner?.kind === 'server') {
      if (owner.controlUrl && owner.controlSecret) return viaServer(owner.controlUrl, owner.controlSecret, request);
    } else {
      const release = await acquireOwnership(dataDir, { pid: process.pid, kind: 'cli' });
      if (release) {
        try {
          const store = await Store.open(dataDir, new DomainEvents(), { secretsKeyFile: config.secretsKeyFile });
          return await bootstrapAccount(store, request);
        } finally {
          await release();
        }
      }
    }
    // A server is starting and has not published its control endpoint yet.
    if (Date.now() > deadline) throw new Error(`the server owning ${dataDir} did not become reachable`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function viaServer(url: string, secret: string, request: BootstrapRequest): Promise<BootstrapResult> {
  const response = await postJson(`${url}/create-account`, secret, request);
  const body = JSON.parse(response.text) as BootstrapResult & { error?: string; data?: unknown };
  if (response.status < 200 || response.status > 299) throw Object.assign(new Error(body.error ?? `server answered ${response.status}`), { data: body.data });
  return body;
}

/**
 * One POST to the server's loopback control endpoint, over http or (TLS_CERT/TLS_KEY) https. The server's
 * certificate names its public host, not 127.0.0.1, so it is not verified here: the control URL comes from the
 * owner file of DATA_DIR and never leaves the host, which is all the plain-http endpoint ever relied on.
 */
function postJson(url: string, secret: string, payload: unknown): Promise<{ status: number; text: string }> {
  const body = JSON.stringify(payload);
  const options = { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-control-secret': secret } };
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    };
    const req = url.startsWith('https:') ? https.request(url, { ...options, rejectUnauthorized: false }, onResponse) : http.request(url, options, onResponse);
    req.on('error', reject);
    req.end(body);
  });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const data = err instanceof KazooError ? err.data : (err as { data?: unknown }).data;
  process.stderr.write(`create-account failed: ${(err as Error).message}${data ? ` ${JSON.stringify(data)}` : ''}\n`);
  process.exit(1);
});
