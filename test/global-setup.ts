import type { TestProject } from 'vitest/node';
import { startPostgres } from './helpers/postgres.js';

/**
 * One real PostgreSQL server for the whole run (started once: initdb costs a second or two); each test file that
 * needs it creates its own database on it (helpers/postgres.ts createDatabase). Stopped by PID at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgres();
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}
