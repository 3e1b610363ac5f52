import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseTrustedProxies } from './http/client-address.js';
import { DEFAULT_LISTING_SLICE } from './listing/slices.js';

/**
 * The only reader of process.env. Every knob is listed in the README; bad values stop startup with a
 * message naming the variable rather than falling back silently.
 */
export interface Config {
  /** HTTP listen address and port (API and phone config files). */
  host: string;
  port: number;
  dataDir: string;
  /** Key sealing account secrets at rest (SECRETS_KEY_FILE); default DATA_DIR/system/secrets.key. */
  secretsKeyFile: string;
  /** DATABASE_URL (postgres://…): documents in PostgreSQL, shared by every node; unset = lowdb files in DATA_DIR. */
  databaseUrl?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  tokenTtlSeconds: number;
  maxBodyBytes: number;
  /** LISTING_SLICE_DOCS: documents a listing handles between two turns of the event loop (src/listing/slices.ts). */
  listingSliceDocs: number;
  /** TLS_CERT / TLS_KEY (PEM files): when set, the API and phone files are served over HTTPS only. */
  tls?: { certFile: string; keyFile: string };
  /** TRUST_PROXY: proxy addresses/CIDR blocks whose X-Forwarded-For names the client (default none). */
  trustProxy: readonly string[];
  /** With DATABASE_URL (src/cluster/): this node's part in the cluster. */
  cluster: {
    /** NODE_ID: this node's name in the cluster (owner of the registrations it answers); default generated at start. */
    nodeId: string;
    /** CLUSTER_NODE_TIMEOUT: a node whose heartbeat is older than this is gone, its phones are taken over. */
    nodeTimeoutSeconds: number;
  };
  sip: {
    backend: 'embedded' | 'drachtio' | 'none';
    address: string;
    port: number;
    /** Address put in Contact/Via of requests we originate, when `address` is a wildcard. */
    publicAddress?: string;
    minExpires: number;
    maxExpires: number;
    /** How long a digest nonce we issued stays valid (a later one is answered 401 stale=true). */
    nonceTtlSeconds: number;
    /** check-sync NOTIFYs per second when one change affects many phones. */
    resyncRate: number;
    /** Failed digests from one source within `authFailWindowSeconds` before it is refused for `authBanSeconds`; also the burst of failures one username takes before `userGuessRate` applies. */
    authFailLimit: number;
    authFailWindowSeconds: number;
    authBanSeconds: number;
    /** Credential checks per minute for one username from sources that have not registered it, once its burst of failures is spent. */
    userGuessRate: number;
    /** Bytes of final responses kept to answer retransmitted requests (embedded backend). */
    responseCacheBytes: number;
    /** Largest SIP message we send as one UDP datagram (embedded backend); bigger ones are refused. */
    maxDatagram: number;
    drachtio?: { host: string; port: number; secret: string };
  };
  provisioning: {
    /** Unknown-MAC probes from one address before it is refused for `banSeconds`. */
    probeLimit: number;
    /** The same, counted over an address's whole network (IPv4 /24, IPv6 /64); beyond it the network is refused. */
    networkProbeLimit: number;
    probeWindowSeconds: number;
    banSeconds: number;
    /** PROVISION_FAST_PATH (default 1): simple phone fetches answered by the lean HTTP/1.1 front door; 0 = node:http only. */
    fastPath: boolean;
    /**
     * PROVISION_KEPT_BYTES: bytes of rendered files held in memory (one copy each, counted exactly; the front door's
     * kept answers reference those copies and hold none of their own). The default holds every file of 200k
     * per-device files (~4.9 KB each with key and entry, measured on the bench's mix of vendors at 100k phones), so
     * a boot storm never falls back to disk reads; hostile URLs cannot add to it.
     */
    keptBytes: number;
    /**
     * PROVISION_PRERENDER (default 1): phones' files rendered in the background when their inputs change and kept on
     * disk under DATA_DIR/rendered across restarts; 0 = rendered at fetch and kept in memory only.
     */
    prerender: boolean;
    /** PROVISION_BASE_URL: the provisioning URL written into phone files (default: the request's scheme and Host + /provision). */
    baseUrl?: string;
    /** PROVISION_UPLOAD_BYTES / _FILES / _DEVICE_BYTES: bounds of phone uploads (Polycom logs and overrides). */
    uploadBytes: number;
    uploadFiles: number;
    uploadDeviceBytes: number;
  };
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function trustedProxies(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    return Object.freeze(parseTrustedProxies(env.TRUST_PROXY ?? ''));
  } catch (err) {
    throw new ConfigError(`TRUST_PROXY must be a comma-separated list of IP addresses or CIDR blocks: ${(err as Error).message}`);
  }
}

function tlsFiles(env: NodeJS.ProcessEnv): Config['tls'] {
  const cert = env.TLS_CERT || undefined;
  const key = env.TLS_KEY || undefined;
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new ConfigError('TLS_CERT and TLS_KEY must be set together (paths to the PEM certificate chain and its private key)');
  return Object.freeze({ certFile: path.resolve(cert), keyFile: path.resolve(key) });
}

function databaseUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.DATABASE_URL;
  if (!raw) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') || !parsed.hostname) {
    // Not echoed: it may hold a password.
    throw new ConfigError('DATABASE_URL must be a PostgreSQL URL such as postgres://user:password@host:5432/database');
  }
  return raw;
}

function baseUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.PROVISION_BASE_URL;
  if (!raw) return undefined;
  if (!/^https?:\/\/[A-Za-z0-9.:[\]-]+(\/[A-Za-z0-9._~/-]*)?$/.test(raw)) {
    throw new ConfigError(`PROVISION_BASE_URL must be an http(s) URL such as https://phones.example.com/provision, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

function nodeId(env: NodeJS.ProcessEnv): string {
  const raw = env.NODE_ID;
  if (!raw) return `${os.hostname().replace(/[^A-Za-z0-9._-]/g, '').slice(0, 40) || 'node'}-${randomBytes(4).toString('hex')}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(raw)) throw new ConfigError(`NODE_ID must be 1 to 64 letters, digits, '.', '_' or '-', got "${raw.slice(0, 80)}"`);
  return raw;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const drachtioHost = env.DRACHTIO_HOST;
  const backend = oneOf(env, 'SIP_BACKEND', ['embedded', 'drachtio', 'none'] as const, drachtioHost ? 'drachtio' : 'embedded');
  if (backend === 'drachtio' && (!drachtioHost || !env.DRACHTIO_SECRET)) {
    throw new ConfigError('SIP_BACKEND=drachtio needs DRACHTIO_HOST and DRACHTIO_SECRET (and optionally DRACHTIO_PORT, default 9022)');
  }
  const dataDir = path.resolve(env.DATA_DIR || 'data');
  const probeLimit = int(env, 'PROVISION_PROBE_LIMIT', 20, 1);
  return Object.freeze({
    host: env.HOST || '0.0.0.0',
    port: int(env, 'PORT', 8000, 0, 65535),
    dataDir,
    secretsKeyFile: env.SECRETS_KEY_FILE ? path.resolve(env.SECRETS_KEY_FILE) : path.join(dataDir, 'system', 'secrets.key'),
    databaseUrl: databaseUrl(env),
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    tokenTtlSeconds: int(env, 'TOKEN_TTL_SECONDS', 3600, 1),
    maxBodyBytes: int(env, 'MAX_BODY_BYTES', 1024 * 1024, 1024),
    listingSliceDocs: int(env, 'LISTING_SLICE_DOCS', DEFAULT_LISTING_SLICE, 1),
    tls: tlsFiles(env),
    trustProxy: trustedProxies(env),
    cluster: { nodeId: nodeId(env), nodeTimeoutSeconds: int(env, 'CLUSTER_NODE_TIMEOUT', 15, 1, 3600) },
    sip: {
      backend,
      address: env.SIP_ADDRESS || '0.0.0.0',
      port: int(env, 'SIP_PORT', 5060, 0, 65535),
      publicAddress: env.SIP_PUBLIC_ADDRESS || undefined,
      minExpires: int(env, 'SIP_MIN_EXPIRES', 60, 1),
      maxExpires: int(env, 'SIP_MAX_EXPIRES', 3600, 1),
      nonceTtlSeconds: int(env, 'SIP_NONCE_TTL', 300, 1, 86_400),
      resyncRate: int(env, 'RESYNC_RATE', 50, 1),
      authFailLimit: int(env, 'SIP_AUTH_FAIL_LIMIT', 10, 1),
      authFailWindowSeconds: int(env, 'SIP_AUTH_FAIL_WINDOW', 60, 1, 86_400),
      authBanSeconds: int(env, 'SIP_AUTH_BAN_SECONDS', 600, 1, 86_400),
      userGuessRate: int(env, 'SIP_USER_GUESS_RATE', 6, 1, 6_000),
      responseCacheBytes: int(env, 'SIP_RESPONSE_CACHE_BYTES', 16 * 1024 * 1024, 0),
      maxDatagram: int(env, 'SIP_MAX_DATAGRAM', 65_000, 1300, 65_507),
      drachtio:
        backend === 'drachtio'
          ? { host: drachtioHost!, port: int(env, 'DRACHTIO_PORT', 9022, 1, 65535), secret: env.DRACHTIO_SECRET! }
          : undefined,
    },
    provisioning: {
      probeLimit,
      networkProbeLimit: int(env, 'PROVISION_PREFIX_PROBE_LIMIT', 5 * probeLimit, 1),
      probeWindowSeconds: int(env, 'PROVISION_PROBE_WINDOW', 60, 1),
      banSeconds: int(env, 'PROVISION_BAN_SECONDS', 600, 1),
      fastPath: int(env, 'PROVISION_FAST_PATH', 1, 0, 1) === 1,
      keptBytes: int(env, 'PROVISION_KEPT_BYTES', 1024 * 1024 * 1024, 0),
      prerender: int(env, 'PROVISION_PRERENDER', 1, 0, 1) === 1,
      baseUrl: baseUrl(env),
      uploadBytes: int(env, 'PROVISION_UPLOAD_BYTES', 256 * 1024, 0, 64 * 1024 * 1024),
      uploadFiles: int(env, 'PROVISION_UPLOAD_FILES', 8, 1, 1000),
      uploadDeviceBytes: int(env, 'PROVISION_UPLOAD_DEVICE_BYTES', 1024 * 1024, 1, 1024 * 1024 * 1024),
    },
  });
}
