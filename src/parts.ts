import type { ServerParts } from './server.js';

/**
 * The production wiring of the optional parts (provisioning, SIP). Kept apart from server.ts so tests can
 * start the API alone or with their own parts.
 */
export const productionParts: ServerParts = {};
