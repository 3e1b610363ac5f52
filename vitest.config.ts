import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A real PostgreSQL for the tests of the PostgreSQL store and the cluster (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // SIP tests bind fixed loopback ports; files run in parallel workers but each picks its own ports.
    pool: 'forks',
  },
});
