// Prints the SQL a new migration needs: the difference between a fresh database migrated
// with every migration of core and the configured plugins, and their entities.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createOrm, migrate } from '../src/db/orm.ts';
import { schemaDrift } from '../src/db/schema-drift.ts';
import { loadConfig } from '../src/kernel/config.ts';
import { createLogger } from '../src/kernel/logger.ts';
import { loadModules } from '../src/kernel/module-host.ts';
import { coreModules } from '../src/modules/index.ts';

const adminUrl = process.env.ATRIUM_TEST_DATABASE_URL;
if (!adminUrl) {
  console.error('Set ATRIUM_TEST_DATABASE_URL (bash deploy/local/postgres.sh prints one).');
  process.exit(2);
}
// npm runs workspace scripts in core/; the deployment's atrium.config.ts is where npm was called.
const config = await loadConfig(process.env, process.env.INIT_CWD ?? process.cwd());
const modules = loadModules(coreModules, config.plugins);
const name = `atrium_diff_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`create database ${name}`);
try {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const orm = await createOrm({
    databaseUrl: url.toString(),
    modules,
    poolMax: 2,
    logger: createLogger('silent'),
  });
  await migrate(orm);
  console.log((await schemaDrift(orm)) || '-- no drift: migrations match the entities');
  await orm.close();
} finally {
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}
