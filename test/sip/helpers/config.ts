import { loadConfig, type Config } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';

export function sipTestConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ SIP_ADDRESS: '127.0.0.1', SIP_PORT: '0', SIP_MIN_EXPIRES: '1', SIP_MAX_EXPIRES: '3600', LOG_LEVEL: 'silent', ...overrides });
}

export const quietLog = createLogger(process.env.SIP_TEST_LOG ? 'debug' : 'silent', (l) => process.stderr.write(l));
