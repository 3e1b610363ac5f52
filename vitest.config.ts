import { defineConfig } from 'vitest/config';

/**
 * Two stores, one suite: the `lowdb` project runs every test file as `npm start` runs (lowdb files in
 * DATA_DIR); the `postgres` projects run the API, provisioning and SIP files again with TEST_STORE=postgres,
 * so each test server gets its own database on the run's PostgreSQL (test/helpers/server.ts).
 * SIP files bind fixed loopback addresses and ports (SIPp phones, 127.0.0.x sources): the same file running in
 * two projects at once would collide, so `postgres-sip` runs in a later group, after the lowdb project has
 * finished (sequence.groupOrder), while the SIP-free postgres files run beside the lowdb ones.
 * Run one store alone: `npx vitest run --project lowdb` (or postgres, postgres-sip).
 */
const shared = {
  // A real PostgreSQL for the PostgreSQL store's tests (test/global-setup.ts), one per project.
  globalSetup: ['test/global-setup.ts'],
  testTimeout: 30_000,
  hookTimeout: 30_000,
  // SIP tests bind fixed loopback ports; files run in parallel workers but each picks its own ports.
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    projects: [
      { test: { ...shared, name: 'lowdb', include: ['test/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      {
        test: { ...shared, name: 'postgres', include: ['test/api/**/*.test.ts', 'test/provision/**/*.test.ts'], env: { TEST_STORE: 'postgres' }, sequence: { groupOrder: 0 } },
      },
      { test: { ...shared, name: 'postgres-sip', include: ['test/sip/**/*.test.ts'], env: { TEST_STORE: 'postgres' }, sequence: { groupOrder: 1 } } },
    ],
  },
});
