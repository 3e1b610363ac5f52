import type { Router } from 'express';
import type { Config } from '../config.js';
import type { DomainEvents } from '../domain/events.js';
import type { AccountDoc, DeviceDoc } from '../domain/types.js';
import type { Logger } from '../log.js';
import type { ProvisioningService } from '../provision/service.js';
import type { Directory } from '../store/directory.js';
import { createResyncCoordinator } from '../resync/index.js';
import { createDeviceActionsRouter } from '../routes/v2/device-actions.js';
import { createSipService } from './index.js';
import { DeviceOutbox } from './device-outbox.js';
import type { SipService } from './service.js';

/**
 * Everything SIP brings to the server in one call, shaped like ServerParts['sip'] in src/server.ts:
 * the started SipService, the device-actions router, a `_read_only.sip_registration` annotator for device
 * answers, and the resync coordinator (when provisioning is present). `stop()` undoes all of it.
 */
export interface SipPart {
  service: SipService;
  accountRouters: Router[];
  annotators: Array<(account: AccountDoc, device: DeviceDoc) => Record<string, unknown> | undefined>;
  stop(): Promise<void>;
}

export async function createSipPart(ctx: {
  config: Config;
  log: Logger;
  store: Directory;
  events: DomainEvents;
  provisioning?: ProvisioningService;
}): Promise<SipPart> {
  const { config, log, store: directory, events, provisioning } = ctx;
  const service = createSipService({ config, log, directory, provisioning });
  await service.start();
  const resync = provisioning ? createResyncCoordinator({ config, log, directory, events, sip: service, provisioning }) : undefined;
  const outbox = new DeviceOutbox({ sip: service, directory, events, log });
  return {
    service,
    accountRouters: [createDeviceActionsRouter({ directory, sip: service, outbox, provisioning, log })],
    annotators: [
      (account, device) => {
        const last = outbox.outcomeOf(account.id, device.id);
        return last ? { sip_notify: last } : undefined;
      },
      (account, device) => {
        const r = service.registrationOf(account.id, device.id);
        if (!r) return config.sip.backend === 'none' ? undefined : { sip_registration: { registered: false } };
        return {
          sip_registration: {
            registered: true,
            contact: r.contact,
            source: `${r.source.address}:${r.source.port}`,
            expires_in: Math.max(0, Math.round((r.expiresAt - Date.now()) / 1000)),
            user_agent: r.userAgent,
          },
        };
      },
    ],
    async stop() {
      outbox.stop();
      resync?.stop();
      await service.stop();
    },
  };
}
