import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FrontDoor, FrontDoorOptions } from './front-door.js';
import type { Router } from 'express';

/**
 * What the rest of the product needs from provisioning. Implemented in src/provision/.
 */
export interface ProvisioningService {
  /** Lean node:http handler for every request whose path starts with /provision/ (the phone hot path). */
  handlePhoneRequest(req: IncomingMessage, res: ServerResponse): void;
  /**
   * Puts the lean HTTP/1.1 front door on `server` (PROVISION_FAST_PATH): simple phone fetches are parsed and
   * answered on the socket with the same decision as handlePhoneRequest; every other connection goes to `server`.
   */
  attachFrontDoor(server: Server, options?: FrontDoorOptions): FrontDoor;
  /** Express router mounted under /v2/accounts/:accountId after auth and scoping (template overrides, config preview). */
  accountRouter(): Router;
  /**
   * A digest of every file this device's phone would download right now, or null when the device is not
   * provisionable (no MAC, unknown vendor, disabled). Two equal fingerprints mean the phone has nothing new to fetch.
   */
  fingerprint(accountId: string, deviceId: string): Promise<string | null>;
  /** The vendor's check-sync Event header value for this device (e.g. "check-sync;reboot=false", "resync"). */
  checkSyncEvent(accountId: string, deviceId: string, reboot: boolean): string;
  /** Headers that make this vendor's phone auto-answer an INVITE (quick call with auto_answer). */
  autoAnswerHeaders(accountId: string, deviceId: string): Record<string, string>;
  /** Read-only provisioning facts for the device's API answer (vendor/model, files, last fetch). */
  describe(accountId: string, deviceId: string): Record<string, unknown> | undefined;
  close(): Promise<void>;
}
