import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedDatabase } from '../db/embedded.ts';
import { createOrm, migrate } from '../db/orm.ts';
import { createLogger } from '../kernel/logger.ts';
import { loadModules } from '../kernel/module-host.ts';
import { coreModules } from '../modules/index.ts';
import { createTestDatabase } from '../testing/test-database.ts';
import { defineSearchContract } from './contract.ts';
import { PostgresSearchEngine } from './postgres.ts';

const logger = createLogger('silent');

async function engineOn(databaseUrl: string, poolMax: number) {
  const orm = await createOrm({ databaseUrl, modules: loadModules(coreModules, []), poolMax, logger });
  await migrate(orm);
  return { orm, engine: new PostgresSearchEngine({ orm, logger }) };
}

defineSearchContract(
  'PostgreSQL',
  async () => {
    const database = await createTestDatabase();
    const { orm, engine } = await engineOn(database.url, 4);
    return {
      engine,
      async stop() {
        await orm.close();
        await database.drop();
      },
    };
  },
  { stemming: true },
);

// The embedded default: the same suite on PGlite, with pg_trgm loaded as the server loads it.
defineSearchContract(
  'PostgreSQL on embedded PGlite',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atrium-search-'));
    const embedded = await startEmbeddedDatabase(dir, logger);
    const { orm, engine } = await engineOn(embedded.url, 1);
    return {
      engine,
      async stop() {
        await orm.close();
        await embedded.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  { stemming: true },
);
