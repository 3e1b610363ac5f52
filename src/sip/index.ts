import { EmbeddedSipService, type SipServiceDeps } from './embedded.js';
import { DisabledSipService } from './none.js';
import type { SipService } from './service.js';
import { DrachtioSipService } from './drachtio/service.js';

export type { SipServiceDeps } from './embedded.js';
export type { RegistrationChange, RegistrationListener } from './registry.js';
export { SipStartError } from './transport.js';
export { EmbeddedSipService } from './embedded.js';
export { DrachtioSipService } from './drachtio/service.js';

/**
 * The one place that picks the SIP backend from configuration: embedded (default, no other process),
 * drachtio (needs a drachtio-server; DRACHTIO_HOST/PORT/SECRET) or none (nothing registered, sends refused).
 */
export function createSipService(deps: SipServiceDeps): SipService {
  switch (deps.config.sip.backend) {
    case 'none':
      return new DisabledSipService();
    case 'drachtio':
      return new DrachtioSipService(deps);
    default:
      return new EmbeddedSipService(deps);
  }
}
