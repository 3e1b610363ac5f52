import type pg from 'pg';
import type { Logger } from '../log.js';
import type { Listener } from './listener.js';
import { TableFollower } from './table-follower.js';
import type { OverrideStorage, StoredOverride, StoredUpload, UploadStorage } from '../provision/shared-files.js';

/**
 * The files the API and the phones write, in PostgreSQL for every node (src/provision/shared-files.ts): template
 * overrides in cluster_templates, phone uploads in cluster_uploads. A write is one upsert that NOTIFYs the others;
 * a removal keeps the row with no content, so the others see it go. A node's own rows come back through the
 * follower and are skipped (it applied them when it wrote them), except on the first read after a restart.
 */
export interface SharedFilesOptions {
  pool: pg.Pool;
  listener: Listener;
  nodeId: string;
  log: Logger;
}

interface TemplateRow extends Record<string, unknown> {
  account_id: string;
  device_id: string;
  vendor: string;
  name: string;
  source: string | null;
  node_id: string;
}

const TEMPLATES_CHANNEL = 'cluster_templates';

export class SharedTemplateOverrides implements OverrideStorage {
  private follower?: TableFollower<TemplateRow>;

  constructor(private readonly o: SharedFilesOptions) {}

  async start(apply: (override: StoredOverride, initial: boolean) => void): Promise<void> {
    let initial = true;
    this.follower = new TableFollower<TemplateRow>({
      ...this.o,
      table: 'cluster_templates',
      keys: ['account_id', 'device_id', 'vendor', 'name'],
      channel: TEMPLATES_CHANNEL,
      page: 500,
      apply: (rows) => {
        for (const r of rows) {
          if (!initial && r.node_id === this.o.nodeId) continue;
          apply({ accountId: r.account_id, deviceId: r.device_id || undefined, vendor: r.vendor, name: r.name, source: r.source ?? undefined }, initial);
        }
      },
    });
    await this.follower.start();
    initial = false;
  }

  put(override: StoredOverride & { source: string }): Promise<void> {
    return this.write(override, override.source);
  }

  remove(override: Omit<StoredOverride, 'source'>): Promise<void> {
    return this.write(override, null);
  }

  private async write(o: Omit<StoredOverride, 'source'>, source: string | null): Promise<void> {
    await this.o.pool.query(
      `WITH up AS (
         INSERT INTO cluster_templates AS t (account_id, device_id, vendor, name, source, node_id) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, device_id, vendor, name) DO UPDATE SET source = EXCLUDED.source, node_id = EXCLUDED.node_id, txid = pg_current_xact_id()
         RETURNING 1)
       SELECT pg_notify('${TEMPLATES_CHANNEL}', $6) FROM up`,
      [o.accountId, o.deviceId ?? '', o.vendor, o.name, source, this.o.nodeId],
    );
  }

  /** Resolves when overrides committed before the call are applied here (tests). */
  sync(): Promise<void> {
    return this.follower?.sync() ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }
}

interface UploadRow extends Record<string, unknown> {
  device_id: string;
  name: string;
  body: Buffer | null;
  modified: string;
  node_id: string;
}

const UPLOADS_CHANNEL = 'cluster_uploads';

export class SharedUploads implements UploadStorage {
  private follower?: TableFollower<UploadRow>;

  constructor(private readonly o: SharedFilesOptions & { maxBytes: number }) {}

  async start(apply: (upload: StoredUpload, initial: boolean) => void): Promise<void> {
    let initial = true;
    this.follower = new TableFollower<UploadRow>({
      ...this.o,
      table: 'cluster_uploads',
      keys: ['device_id', 'name'],
      channel: UPLOADS_CHANNEL,
      // Bodies ride along: a page holds at most about 16 MB of them.
      page: Math.max(1, Math.floor((16 * 1024 * 1024) / Math.max(1, this.o.maxBytes))),
      apply: (rows) => {
        for (const r of rows) {
          if (!initial && r.node_id === this.o.nodeId) continue;
          apply({ deviceId: r.device_id, name: r.name, body: r.body ?? undefined, modified: Number(r.modified) }, initial);
        }
      },
    });
    await this.follower.start();
    initial = false;
  }

  async put(upload: StoredUpload & { body: Buffer }): Promise<void> {
    await this.o.pool.query(
      `WITH up AS (
         INSERT INTO cluster_uploads AS t (device_id, name, body, modified, node_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (device_id, name) DO UPDATE SET body = EXCLUDED.body, modified = EXCLUDED.modified, node_id = EXCLUDED.node_id, txid = pg_current_xact_id()
         RETURNING 1)
       SELECT pg_notify('${UPLOADS_CHANNEL}', $5) FROM up`,
      [upload.deviceId, upload.name, upload.body, Math.round(upload.modified), this.o.nodeId],
    );
  }

  async remove(deviceId: string, names: readonly string[]): Promise<void> {
    if (!names.length) return;
    await this.o.pool.query(
      `WITH up AS (
         UPDATE cluster_uploads SET body = NULL, node_id = $3, txid = pg_current_xact_id()
         WHERE device_id = $1 AND name = ANY($2::text[]) AND body IS NOT NULL RETURNING 1)
       SELECT pg_notify('${UPLOADS_CHANNEL}', $3) FROM (SELECT count(*) AS n FROM up) c WHERE c.n > 0`,
      [deviceId, names, this.o.nodeId],
    );
  }

  async forget(deviceId: string): Promise<void> {
    await this.o.pool.query(
      `WITH up AS (
         UPDATE cluster_uploads SET body = NULL, node_id = $2, txid = pg_current_xact_id() WHERE device_id = $1 AND body IS NOT NULL RETURNING 1)
       SELECT pg_notify('${UPLOADS_CHANNEL}', $2) FROM (SELECT count(*) AS n FROM up) c WHERE c.n > 0`,
      [deviceId, this.o.nodeId],
    );
  }

  sync(): Promise<void> {
    return this.follower?.sync() ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }
}
