import type { ServerParts } from './server.js';
import { createProvisioning } from './provision/index.js';
import { createSipPart } from './sip/wiring.js';

/**
 * The production wiring of the optional parts: provisioning (templates, phone handler, template API) and
 * SIP (registrar, device outbox). src/server.ts joins them: the DeviceService gets both, and the resync
 * coordinator runs when both are present. Kept apart from server.ts so tests can start the API alone or
 * with their own parts.
 */
export const productionParts: ServerParts = {
  provisioning: ({ config, log, store, events, cluster, apiActivity }) =>
    createProvisioning({
      config,
      log,
      directory: store,
      events,
      apiBusy: () => apiActivity.busy,
      fetchLog: cluster?.fetchLog(),
      shared: cluster && { templates: cluster.templateOverrides(), uploads: cluster.uploads(config.provisioning.uploadBytes) },
    }),
  sip: (ctx) => createSipPart(ctx),
};
