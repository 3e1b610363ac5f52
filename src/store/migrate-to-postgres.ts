import type { AccountDoc, StoredDoc } from '../domain/types.js';
import { LowdbBackend } from './lowdb-backend.js';
import { PostgresBackend } from './postgres/backend.js';
import { durableClaims } from './claims.js';
import { isTombstone } from './tombstones.js';

export interface MigrationCounts {
  accounts: number;
  users: number;
  devices: number;
  /** Deleted documents copied as tombstones (their ids stay taken). */
  tombstones: { accounts: number; users: number; devices: number };
}

/**
 * The upgrade path: every document of an embedded DATA_DIR (tombstones included) into an empty PostgreSQL
 * database, in one transaction, with the unique keys they hold. Account secrets are opened with the
 * SECRETS_KEY_FILE of the lowdb store and sealed again with the same key, so the nodes need that key file.
 * The caller holds DATA_DIR (no server writes to it meanwhile).
 */
export async function migrateToPostgres(dataDir: string, databaseUrl: string, secretsKeyFile: string): Promise<MigrationCounts> {
  const source = await LowdbBackend.open(dataDir, { secretsKeyFile });
  const docs = await source.load();
  await source.close();
  const realms = new Map<string, string>();
  for (const doc of docs) if (doc.pvt_type === 'account' && !isTombstone(doc)) realms.set(doc.id, (doc as AccountDoc).realm);
  const rows = docs.map((doc: StoredDoc) => ({ doc, claims: durableClaims(doc, doc.pvt_type === 'device' ? realms.get(doc.pvt_account_id) : undefined) }));
  const target = await PostgresBackend.open(databaseUrl, { secretsKeyFile });
  try {
    await target.importDocuments(rows);
  } finally {
    await target.close();
  }
  const counts: MigrationCounts = { accounts: 0, users: 0, devices: 0, tombstones: { accounts: 0, users: 0, devices: 0 } };
  const plural = { account: 'accounts', user: 'users', device: 'devices' } as const;
  for (const doc of docs) {
    const kind = plural[doc.pvt_type];
    if (isTombstone(doc)) counts.tombstones[kind]++;
    else counts[kind]++;
  }
  return counts;
}
