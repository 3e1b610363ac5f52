import { inject, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createDatabase } from '../helpers/postgres.js';

describe('the test PostgreSQL server', () => {
  it('is a real PostgreSQL on loopback, and each file gets its own empty database', async () => {
    const serverUrl = inject('postgresUrl');
    expect(new URL(serverUrl).hostname).toBe('127.0.0.1');
    const url = await createDatabase(serverUrl);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ v: string; tables: string }>(
        "SELECT current_setting('server_version_num') AS v, (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') AS tables",
      );
      expect(Number(rows[0]?.v)).toBeGreaterThanOrEqual(150000);
      expect(Number(rows[0]?.tables)).toBe(0);
    } finally {
      await client.end();
    }
  });
});
