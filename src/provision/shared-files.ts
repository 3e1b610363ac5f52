/**
 * Where the files the API and the phones write are kept when several nodes serve the same phones (DATABASE_URL):
 * template overrides (PUT …/provisioning/templates/…) and phone uploads (Polycom logs and -phone.cfg overrides).
 * Without one, TemplateStore and UploadStore keep them under DATA_DIR as always. The cluster's implementations
 * are in src/cluster/files-postgres.ts; every node follows the others' changes, in commit order.
 */

/** A template override at the account layer (no deviceId) or the device layer. `source` undefined: removed. */
export interface StoredOverride {
  accountId: string;
  deviceId?: string;
  vendor: string;
  name: string;
  source: string | undefined;
}

export interface OverrideStorage {
  /**
   * Hands `apply` every override stored now (removed ones included, in write order: apply them in turn) with
   * `initial` set, resolves, and from then on hands it those the other nodes store.
   */
  start(apply: (override: StoredOverride, initial: boolean) => void): Promise<void>;
  /** Resolves once the override is durable for every node. */
  put(override: StoredOverride & { source: string }): Promise<void>;
  remove(override: Omit<StoredOverride, 'source'>): Promise<void>;
}

/** A file a phone uploaded. `body` undefined: removed (pruned, or its device deleted). */
export interface StoredUpload {
  deviceId: string;
  name: string;
  body: Buffer | undefined;
  /** Unix ms of the upload. */
  modified: number;
}

export interface UploadStorage {
  /** As OverrideStorage.start: every upload stored now (bodies read a few at a time), then the other nodes'. */
  start(apply: (upload: StoredUpload, initial: boolean) => void): Promise<void>;
  put(upload: StoredUpload & { body: Buffer }): Promise<void>;
  remove(deviceId: string, names: readonly string[]): Promise<void>;
  /** Removes every upload of a device. */
  forget(deviceId: string): Promise<void>;
}
