import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/postgresql';
import { devTokenSecret, signDevToken } from '../auth/dev-tokens.ts';
import type { Scope } from '../auth/scopes.ts';
import { parseSettings } from '../kernel/config.ts';
import type { AtriumPlugin } from '../kernel/plugin.ts';
import type { WorkspaceEntity } from '../modules/workspaces/entities.ts';
import { ensureWorkspace } from '../modules/workspaces/service.ts';
import { type Atrium, createAtrium, type ProcessRole } from '../server.ts';
import { GraphQLClient } from './graphql-client.ts';
import { createTestDatabase } from './test-database.ts';

export interface TestEnvironmentOptions {
  plugins?: AtriumPlugin[];
  /** Environment-style settings on top of the test defaults. */
  settings?: Record<string, string>;
  /** `api` leaves the workers to another process (e.g. a spawned `atrium worker`). */
  role?: ProcessRole;
}

export interface TestEnvironment {
  atrium: Atrium;
  url: string;
  databaseUrl: string;
  dataDir: string;
  /** The Admin graph at /graphql, anonymous until `.withToken()`. */
  adminClient: GraphQLClient;
  /** The Public graph at /public/graphql. */
  publicClient: GraphQLClient;
  /** A dev token for `role` in workspace `workspace` (created beforehand with `workspace()`). */
  token(role: Scope, workspace?: string): string;
  workspace(slug: string): Promise<WorkspaceEntity>;
  /** A fresh entity manager for assertions; pass `{ filters: false }` to look across workspaces. */
  em(): EntityManager;
  destroy(): Promise<void>;
}

/**
 * Boots the real server (HTTP on a random port, workers in-process) on a fresh PostgreSQL
 * database, with workspaces `demo` and `other` ready. Call `destroy()` in `after()`.
 */
export async function createTestEnvironment(options: TestEnvironmentOptions = {}): Promise<TestEnvironment> {
  const database = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-test-'));
  const settings = parseSettings({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.ATRIUM_TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: database.url,
    DATABASE_POOL_MAX: '6',
    ATRIUM_DATA_DIR: dataDir,
    AUTH_DEV_TOKENS: 'true',
    OUTBOX_RETRY_DELAY_S: '1',
    OUTBOX_POLL_MS: '100',
    JOBS_SUPERVISE_INTERVAL_S: '1',
    SHUTDOWN_TIMEOUT_MS: '5000',
    // Tests call both graphs and the tracking API from one address far faster than any client.
    PUBLIC_GRAPHQL_RATE_PER_SECOND: '100000',
    ADMIN_GRAPHQL_RATE_PER_SECOND: '100000',
    INGEST_RATE_PER_ADDRESS_PER_SECOND: '100000',
    ...options.settings,
  });
  let atrium: Atrium;
  try {
    atrium = await createAtrium({
      config: { settings, plugins: options.plugins ?? [] },
      role: options.role ?? 'all',
      migrateOnStart: true,
    });
  } catch (error) {
    // A boot that fails (e.g. a misconfigured plugin) must not leave its database behind.
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const url = await atrium.listen(0, '127.0.0.1');
  const secret = devTokenSecret(dataDir);
  const workspace = (slug: string) => ensureWorkspace(atrium.orm.em.fork(), slug, slug);
  await workspace('demo');
  await workspace('other');
  return {
    atrium,
    url,
    databaseUrl: database.url,
    dataDir,
    adminClient: new GraphQLClient(`${url}/graphql`),
    publicClient: new GraphQLClient(`${url}/public/graphql`),
    token: (role, slug = 'demo') => signDevToken(secret, { role, workspace: slug }),
    workspace,
    em: () => atrium.orm.em.fork(),
    async destroy() {
      await atrium.stop();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
