import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FrontDoor, FrontDoorOptions } from './front-door.js';
import type { Router } from 'express';
import type { DeviceRef } from '../domain/types.js';
import type { ConfigFileEntry } from './device-files.js';
import type { UploadInfo } from './uploads.js';

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
  /**
   * Before the port opens, after attachFrontDoor: the files the previous run's phones were served last read back into
   * memory (within PROVISION_KEPT_BYTES), so their first fetch after a restart is a replay; then the phone path is
   * rehearsed on one of them (rehearsal.ts, nothing logged); then the check that every device's files are current
   * starts (prerender.ts). Other kept files stay on disk until a phone asks for them.
   */
  readBack(): Promise<void>;
  /** Express router mounted under /v2/accounts/:accountId after auth and scoping: the template overrides at both layers. */
  templatesRouter(): Router;
  /** The files this device's phone will fetch (GET /devices/{id}/config). */
  deviceConfig(ref: DeviceRef): ConfigFileEntry[];
  /** One file exactly as the phone gets it, rendered for `host`; undefined when the phone fetches no such file. Throws RenderError. */
  deviceConfigFile(ref: DeviceRef, name: string, host: string | undefined): { contentType: string; body: string | Buffer } | undefined;
  /** Files the device's phone uploaded (logs, call lists), and one of them as sent. */
  deviceUploads(deviceId: string): UploadInfo[];
  deviceUpload(deviceId: string, name: string): Buffer | undefined;
  /**
   * A digest of every file this device's phone would download right now, or null when the device is not
   * provisionable (no MAC, unknown vendor, disabled). Two equal fingerprints mean the phone has nothing new to fetch.
   */
  fingerprint(accountId: string, deviceId: string): Promise<string | null>;
  /**
   * The vendor's check-sync Event header value for this device (e.g. "check-sync;reboot=false", "resync");
   * src/devices/check-sync.ts's generic one when the vendor is not known.
   */
  checkSyncEvent(accountId: string, deviceId: string, reboot: boolean): string;
  /** Headers that make this vendor's phone auto-answer an INVITE (quick call with auto_answer). */
  autoAnswerHeaders(accountId: string, deviceId: string): Record<string, string>;
  /** Read-only provisioning facts for the device's API answer (vendor/model, files, last fetch). */
  describe(accountId: string, deviceId: string): Record<string, unknown> | undefined;
  /** Templates run so far (a cache hit runs none): tests and diagnostics. */
  readonly renders: number;
  /** Per-device files served from their copy kept on disk (tests and diagnostics). */
  readonly keptServed: number;
  /** Rendered files held in memory and their bytes (bench, diagnostics). */
  memoryStats(): { files: number; bytes: number };
  /** Resolves once the background renders queued so far are done and written to disk (tests, bench). */
  rendered(): Promise<void>;
  close(): Promise<void>;
}
