import path from 'node:path';

/**
 * The only reader of process.env. Every knob is listed in the README; bad values stop startup with a
 * message naming the variable rather than falling back silently.
 */
export interface Config {
  /** HTTP listen address and port (API and phone config files). */
  host: string;
  port: number;
  dataDir: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  tokenTtlSeconds: number;
  maxBodyBytes: number;
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
    probeWindowSeconds: number;
    banSeconds: number;
    /** PROVISION_FAST_PATH (default 1): simple phone fetches answered by the lean HTTP/1.1 front door; 0 = node:http only. */
    fastPath: boolean;
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const drachtioHost = env.DRACHTIO_HOST;
  const backend = oneOf(env, 'SIP_BACKEND', ['embedded', 'drachtio', 'none'] as const, drachtioHost ? 'drachtio' : 'embedded');
  if (backend === 'drachtio' && (!drachtioHost || !env.DRACHTIO_SECRET)) {
    throw new ConfigError('SIP_BACKEND=drachtio needs DRACHTIO_HOST and DRACHTIO_SECRET (and optionally DRACHTIO_PORT, default 9022)');
  }
  return Object.freeze({
    host: env.HOST || '0.0.0.0',
    port: int(env, 'PORT', 8000, 0, 65535),
    dataDir: path.resolve(env.DATA_DIR || 'data'),
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    tokenTtlSeconds: int(env, 'TOKEN_TTL_SECONDS', 3600, 1),
    maxBodyBytes: int(env, 'MAX_BODY_BYTES', 1024 * 1024, 1024),
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
      probeLimit: int(env, 'PROVISION_PROBE_LIMIT', 20, 1),
      probeWindowSeconds: int(env, 'PROVISION_PROBE_WINDOW', 60, 1),
      banSeconds: int(env, 'PROVISION_BAN_SECONDS', 600, 1),
      fastPath: int(env, 'PROVISION_FAST_PATH', 1, 0, 1) === 1,
    },
  });
}
