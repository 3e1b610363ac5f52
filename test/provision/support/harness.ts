import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { loadConfig } from '../../../src/config.js';
import { DomainEvents, type DomainEvent } from '../../../src/domain/events.js';
import { badIdentifier, KazooError } from '../../../src/http/errors.js';
import { toKazooError } from '../../../src/http/error-mapper.js';
import { addDeviceProvisioningRoutes } from '../../../src/routes/v2/devices.js';
import { sendError } from '../../../src/http/envelope.js';
import { createLogger } from '../../../src/log.js';
import { createProvisioning, type ProvisioningDeps } from '../../../src/provision/index.js';
import type { FrontDoor, FrontDoorOptions } from '../../../src/provision/front-door.js';
import type { ProvisioningService } from '../../../src/provision/service.js';
import { MemoryDirectory } from '../../helpers/memory-directory.js';

export const ACCOUNT = 'a0000000000000000000000000000001';
export const REALM = 'acme.sip.example.com';

/**
 * A provisioning service on a temp DATA_DIR behind a real loopback server: /provision/ goes to the phone handler,
 * /v2/accounts/:accountId to the account router (with a minimal stand-in for the lead's auth/body/error layers).
 */
export interface Harness {
  dir: MemoryDirectory;
  service: ProvisioningService;
  events: DomainEvent[];
  /** The domain event bus the service listens on (what the store would emit after a write). */
  bus: DomainEvents;
  logs: string[];
  dataDir: string;
  base: string;
  clock: { now: number };
  /** The lean front door, when the harness runs with it (opts.frontDoor, or PROVISION_FAST_PATH=1 for every test). */
  front?: FrontDoor;
  get(file: string, headers?: Record<string, string>, method?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

export async function startHarness(
  opts: {
    env?: Record<string, string>;
    dataDir?: string;
    options?: ProvisioningDeps['options'];
    frontDoor?: FrontDoorOptions | false;
    /** Fills the directory before provisioning starts (as the store is loaded before it in the server). */
    seed?: (h: Pick<Harness, 'dir'>) => void;
    /** Runs between the service's creation and its read back (what the server does before the port opens). */
    beforeReadBack?: (service: ProvisioningService) => Promise<void>;
  } = {},
): Promise<Harness> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'prov-test-'));
  const config = loadConfig({ DATA_DIR: dataDir, ...opts.env });
  const logs: string[] = [];
  const log = createLogger('debug', (l) => logs.push(l));
  const dir = new MemoryDirectory();
  dir.addAccount({ id: ACCOUNT, realm: REALM, name: 'Acme' });
  const bus = new DomainEvents();
  const events: DomainEvent[] = [];
  bus.on((e) => events.push(e));
  opts.seed?.({ dir });
  const clock = { now: Date.now() };
  const service = await createProvisioning({ config, log, directory: dir, events: bus, options: { now: () => clock.now, ...opts.options } });

  // The device resource's provisioning views, on the memory directory (the full router needs a Store).
  const deviceRoutes = express.Router({ mergeParams: true });
  addDeviceProvisioningRoutes(deviceRoutes, {
    provisioning: service,
    refOf: (req, res) => {
      const account = res.locals.account as ReturnType<MemoryDirectory['getAccount']> & object;
      const device = dir.getDevice(account.id, String(req.params.deviceId));
      if (!device) throw badIdentifier(String(req.params.deviceId));
      return { account, device };
    },
  });
  const app = express();
  app.use('/v2/accounts/:accountId', express.json({ type: 'application/json' }), (req, res, next) => {
    const account = dir.getAccount(String(req.params.accountId));
    if (!account) return next(new KazooError(404, 'bad_identifier', {}));
    res.locals.account = account;
    next();
  }, service.templatesRouter(), deviceRoutes);
  app.use((err: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const kazoo = toKazooError(err);
    if (kazoo) return sendError(req, res, kazoo);
    res.status(500).json({ error: String(err) });
  });
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/provision/')) service.handlePhoneRequest(req, res);
    else app(req, res);
  });
  const useFront = opts.frontDoor !== undefined ? opts.frontDoor !== false : process.env.PROVISION_FAST_PATH === '1';
  const front = useFront ? service.attachFrontDoor(server, opts.frontDoor || {}) : undefined;
  await opts.beforeReadBack?.(service);
  await service.readBack();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let closed = false;
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    dir, service, events, bus, logs, dataDir, base, clock, front,
    get(file, headers = {}, method = 'GET') {
      return new Promise((resolve, reject) => {
        const req = http.request(`${base}${file.startsWith('/') ? file : `/provision/${file}`}`, { method, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('error', reject);
        req.end();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await service.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A device with every feature the issue lists: codecs, expiry, BLF, speed dial, park and personal park keys. */
export function seedFullDevice(h: Pick<Harness, 'dir'>, opts: { id: string; mac: string; brand?: string; model?: string; name?: string }) {
  const bob = h.dir.users.get('u0000000000000000000000000000b0b') ??
    h.dir.addUser(ACCOUNT, { id: 'u0000000000000000000000000000b0b', username: 'bob', first_name: 'Bob', last_name: 'Builder', presence_id: '1002' });
  return h.dir.addDevice(ACCOUNT, {
    id: opts.id,
    name: opts.name ?? 'Reception',
    mac_address: opts.mac,
    sip: { username: 'user_1001', password: 's3cret!', expire_seconds: 600 },
    caller_id: { internal: { name: 'Front Desk' } },
    media: { audio: { codecs: ['G722', 'PCMU', 'OPUS'] } },
    provision: {
      ...(opts.brand ? { endpoint_brand: opts.brand } : {}),
      ...(opts.model ? { endpoint_model: opts.model } : {}),
      combo_keys: {
        '0': { type: 'line' },
        '1': { type: 'presence', value: bob.id },
        '2': { type: 'speed_dial', value: { label: 'Lobby', value: '2000' } },
        '3': { type: 'parking', value: 3 },
        '4': { type: 'personal_parking', value: bob.id },
      },
      feature_keys: {
        '0': { type: 'presence', value: bob.id },
        '1': { type: 'speed_dial', value: '5551234' },
        '2': { type: 'parking', value: '2' },
      },
    },
    ringtones: { internal: '<http://127.0.0.1>;info=ring2', external: '<http://127.0.0.1>;info=ring3' },
    timezone: 'America/New_York',
    language: 'fr-ca',
    mwi_unsolicited_updates: false,
  });
}
