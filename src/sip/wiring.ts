import type { Config } from '../config.js';
import type { DomainEvents } from '../domain/events.js';
import type { DeviceAnnotator } from '../devices/device-service.js';
import type { Logger } from '../log.js';
import type { ProvisioningService } from '../provision/service.js';
import type { Directory } from '../store/directory.js';
import { createSipService } from './index.js';
import { DeviceOutbox } from './device-outbox.js';
import type { SipService } from './service.js';
import { RegistrarBackend } from './registrar-backend.js';
import type { Cluster } from '../cluster/index.js';

/**
 * Everything SIP brings to the server, shaped like ServerParts['sip'] in src/server.ts: the started SipService,
 * the outbox that delivers sync/notify, and `_read_only` annotators for device answers. No HTTP here: the
 * device routes (src/routes/v2/devices.ts) reach SIP through DeviceService, wired in src/server.ts.
 * `stop()` undoes all of it.
 */
export interface SipPart {
  service: SipService;
  outbox: DeviceOutbox;
  annotators: DeviceAnnotator[];
  stop(): Promise<void>;
}

export async function createSipPart(ctx: {
  config: Config;
  log: Logger;
  store: Directory;
  events: DomainEvents;
  provisioning?: ProvisioningService;
  cluster?: Cluster;
}): Promise<SipPart> {
  const { config, log, store: directory, events, provisioning } = ctx;
  const service = createSipService({ config, log, directory, provisioning });
  await service.start();
  // In a cluster the bindings are shared: every node answers for every registered phone.
  const shared = ctx.cluster && service instanceof RegistrarBackend ? await ctx.cluster.shareRegistrations(service.bindings) : undefined;
  const outbox = new DeviceOutbox({ sip: service, directory, events, log });
  return {
    service,
    outbox,
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
            // The node whose socket reaches the phone (the same answer on every node).
            ...(ctx.cluster ? { node: r.node ?? ctx.cluster.nodeId } : {}),
          },
        };
      },
    ],
    async stop() {
      outbox.stop();
      await service.stop();
      await shared?.stop();
    },
  };
}
