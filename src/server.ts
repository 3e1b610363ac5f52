import http from 'node:http';
import { ApiActivity } from './api-activity.js';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { DomainEvents } from './domain/events.js';
import { Store } from './store/store.js';
import { TokenService } from './auth/tokens.js';
import { createApp } from './app.js';
import { acquireOwnership, updateOwner } from './store/process-lock.js';
import type { ProvisioningService } from './provision/service.js';
import type { SipService } from './sip/service.js';
import type { AppDeps } from './http/deps.js';
import { DeviceService, type DeviceAnnotator } from './devices/device-service.js';
import type { DeviceOutbox } from './sip/device-outbox.js';
import { createResyncCoordinator } from './resync/index.js';
import { CertificateReloader, readTlsPair, secureOptions } from './http/tls-files.js';
import type { FrontDoor } from './provision/front-door.js';
import { LoopMonitor } from './health/loop-monitor.js';
import type pg from 'pg';
import { startCluster, type Cluster } from './cluster/index.js';
import type { PoolSettings } from './store/postgres/connection.js';

export interface RunningServer {
  /** An https.Server (a subclass) when TLS_CERT/TLS_KEY are set. */
  http: http.Server;
  port: number;
  /** The lean phone front door, when PROVISION_FAST_PATH is on (diagnostics, tests). */
  front?: FrontDoor;
  /** Keeps the served certificate in step with TLS_CERT/TLS_KEY (when set). */
  tls?: CertificateReloader;
  store: Store;
  events: DomainEvents;
  tokens: TokenService;
  sip?: SipService;
  provisioning?: ProvisioningService;
  close(): Promise<void>;
}

/** Optional parts, wired by src/main.ts; tests may leave them out or pass their own. */
export interface ServerParts {
  /** `cluster` is there when DATABASE_URL is set: what the nodes share besides documents (src/cluster/). */
  provisioning?: (ctx: { config: Config; log: Logger; store: Store; events: DomainEvents; cluster?: Cluster; apiActivity: ApiActivity }) => Promise<ProvisioningService>;
  sip?: (ctx: { config: Config; log: Logger; store: Store; events: DomainEvents; provisioning?: ProvisioningService; cluster?: Cluster }) => Promise<{
    service: SipService;
    outbox: DeviceOutbox;
    annotators: DeviceAnnotator[];
    stop(): Promise<void>;
  }>;
}

/**
 * Starts everything on one DATA_DIR: takes ownership of it, loads the store, builds provisioning and SIP,
 * and listens. The HTTP server sends /provision/* straight to the provisioning service's lean handler and
 * everything else to the express API.
 */
/** Knobs for tests: the clock tokens are issued and checked by (default Date.now); the PostgreSQL pool's size. */
export interface ServerOptions {
  now?: () => number;
  databasePool?: PoolSettings;
}

export async function startServer(config: Config, log: Logger, parts: ServerParts = {}, options: ServerOptions = {}): Promise<RunningServer> {
  const controlSecret = randomBytes(24).toString('hex');
  // Before anything else: an unusable certificate is a configuration error, not a half-started server.
  const tlsPair = config.tls ? readTlsPair(config.tls) : undefined;
  const release = await acquireOwnership(config.dataDir, { pid: process.pid, kind: 'server' });
  if (!release) throw new Error(`DATA_DIR ${config.dataDir} is already served by another running server`);
  const cleanups: Array<() => Promise<void>> = [release];
  const loopMonitor = new LoopMonitor();
  cleanups.push(async () => loopMonitor.stop());
  try {
    const events = new DomainEvents();
    const store = await Store.open(config.dataDir, events, { secretsKeyFile: config.secretsKeyFile, databaseUrl: config.databaseUrl, databasePool: options.databasePool });
    cleanups.unshift(() => store.close());
    const pool = store.databasePool();
    const cluster = config.databaseUrl && pool ? await openCluster(config, config.databaseUrl, pool, log) : undefined;
    if (cluster) cleanups.unshift(() => cluster.close());
    // In a cluster the signing key and revocations are the cluster's, so a token is good (or revoked) on every node.
    const shared = cluster && ((nowSeconds: () => number, max: number) => cluster.tokens(store.sealer(), nowSeconds, max));
    const tokens = await TokenService.open(config.dataDir, config.tokenTtlSeconds, { now: options.now, shared });
    const apiActivity = new ApiActivity();
    const provisioning = parts.provisioning ? await parts.provisioning({ config, log, store, events, cluster, apiActivity }) : undefined;
    if (provisioning) cleanups.unshift(() => provisioning.close());
    const sip = parts.sip ? await parts.sip({ config, log, store, events, provisioning, cluster }) : undefined;
    if (sip) cleanups.unshift(() => sip.stop());
    // Check-sync by itself when a registered phone's files change (needs both halves); in a cluster, by the owner only.
    const resync =
      sip && provisioning
        ? createResyncCoordinator({ config, log, directory: store, events, sip: sip.service, provisioning, ownership: cluster?.ownership })
        : undefined;
    if (resync) cleanups.unshift(async () => resync.stop());

    const annotators: DeviceAnnotator[] = [...(sip?.annotators ?? [])];
    if (provisioning) {
      annotators.push((account, device) => {
        const facts = provisioning.describe(account.id, device.id);
        return facts ? { provisioning: facts } : undefined;
      });
    }
    const deps: AppDeps = {
      config,
      log,
      store,
      events,
      tokens,
      provisioning,
      sip: sip?.service,
      accountRouters: provisioning ? [provisioning.templatesRouter()] : [],
      devices: new DeviceService({
        store,
        log,
        messaging: sip && { sip: sip.service, outbox: sip.outbox },
        provisioning,
        annotators,
      }),
      controlSecret,
      loopMonitor,
    };
    const app = createApp(deps);
    const route: http.RequestListener = (req, res) => {
      if (provisioning && req.url?.startsWith('/provision/')) provisioning.handlePhoneRequest(req, res);
      else {
        apiActivity.track(res);
        app(req, res);
      }
    };
    const server = tlsPair ? https.createServer(secureOptions(tlsPair), route) : http.createServer(route);
    server.keepAliveTimeout = 65_000;
    const reloader = tlsPair && config.tls ? new CertificateReloader(server as https.Server, config.tls, tlsPair, log) : undefined;
    if (reloader) cleanups.unshift(async () => reloader.close());
    // PROVISION_FAST_PATH: simple phone fetches are parsed and answered by provisioning's lean front door; every
    // other connection still reaches this server untouched (src/provision/front-door.ts).
    const front = provisioning && config.provisioning.fastPath ? provisioning.attachFrontDoor(server) : undefined;
    await provisioning?.readBack();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    cleanups.unshift(() => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
    const controlHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    await updateOwner(config.dataDir, { pid: process.pid, kind: 'server', controlUrl: `${tlsPair ? 'https' : 'http'}://${controlHost}:${port}/internal`, controlSecret });
    return {
      http: server,
      port,
      front,
      tls: reloader,
      store,
      events,
      tokens,
      sip: sip?.service,
      provisioning,
      close: async () => {
        for (const cleanup of cleanups.splice(0)) await cleanup();
      },
    };
  } catch (err) {
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
    throw err;
  }
}

/** DATABASE_URL: this node's place in the cluster (heartbeat, shared registrations and fetch log), on the store's pool. */
async function openCluster(config: Config, url: string, pool: pg.Pool, log: Logger): Promise<Cluster> {
  return startCluster({
    pool,
    databaseUrl: url,
    nodeId: config.cluster.nodeId,
    nodeTimeoutMs: config.cluster.nodeTimeoutSeconds * 1000,
    log,
    sip: config.sip.backend === 'none' ? undefined : `${config.sip.publicAddress ?? config.sip.address}:${config.sip.port}`,
  });
}
