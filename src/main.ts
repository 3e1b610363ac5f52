// First: V8 settings that must be in place before the store and provisioning allocate anything.
import './v8-tuning.js';
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './log.js';
import { startServer } from './server.js';
import { CorruptDataFileError } from './store/json-file-adapter.js';
import { productionParts } from './parts.js';

/** `npm start`: the server on embedded defaults (lowdb files under data/, embedded SIP). */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  try {
    const server = await startServer(config, log, productionParts);
    log.info(`listening on ${config.tls ? 'https' : 'http'}://${config.host}:${server.port} (data dir ${config.dataDir}; SIP ${config.sip.backend}${config.sip.backend === 'none' ? '' : ` on ${config.sip.address}:${config.sip.port}/udp`})`);
    const stop = async (signal: string) => {
      log.info(`stopping on ${signal}`);
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  } catch (err) {
    if (err instanceof ConfigError) {
      // Found only when starting (an unreadable or unusable TLS_CERT/TLS_KEY pair, say).
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    const message = err instanceof CorruptDataFileError ? err.message : `startup failed: ${(err as Error).message}`;
    process.stderr.write(`${message}\n`);
    process.exit(1);
  }
}

void main();
