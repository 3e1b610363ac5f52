import type { Router } from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { DomainEvents } from '../domain/events.js';
import type { TokenService } from '../auth/tokens.js';
import type { ProvisioningService } from '../provision/service.js';
import type { SipService } from '../sip/service.js';
import type { DeviceService } from '../devices/device-service.js';
import type { LoopMonitor } from '../health/loop-monitor.js';

export type { DeviceAnnotator } from '../devices/device-service.js';

export interface AppDeps {
  config: Config;
  log: Logger;
  store: Store;
  events: DomainEvents;
  tokens: TokenService;
  provisioning?: ProvisioningService;
  sip?: SipService;
  /** Routers mounted at /v2/accounts/:accountId after auth and scoping, before the device resource. */
  accountRouters?: Router[];
  /** The device resource (src/routes/v2/devices.ts); a plain one (no SIP, no provisioning) when absent. */
  devices?: DeviceService;
  /** Shared secret of the loopback control endpoint the CLI uses while the server owns DATA_DIR. */
  controlSecret?: string;
  /** Event-loop delay and memory figures, reported on the control endpoint. */
  loopMonitor?: LoopMonitor;
}
