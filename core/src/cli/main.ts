import { parseArgs } from 'node:util';
import { AtriumError } from '../kernel/errors.ts';
import { migrateCommand } from './migrate.ts';
import { reindexCommand } from './reindex.ts';
import { schemaCommand } from './schema.ts';
import { seedCommand } from './seed.ts';
import { startCommand } from './start.ts';
import { tokenCommand } from './token.ts';

const USAGE = `Usage: atrium <command> [options]

Commands:
  start                 serve the API on PORT (default 4000) and run the workers
  api                   serve the API only (scale it apart from the workers)
  worker                run the workers only (outbox deliveries and plugin jobs)
  migrate               apply pending database migrations of core and plugins
  reindex [--workspace SLUG] [--collection NAME]
                        drop and rebuild search collections from their sources
  seed --demo           create the demo workspace and print a new write key for it
  token --role R --workspace W [--subject S] [--ttl SECONDS]
                        print a locally signed dev token (refused in production)
  schema [--graph admin|public]
                        print the GraphQL schema of this configuration

Configuration comes from the environment and atrium.config.ts; see docs/operations.md.`;

const [command, ...rest] = process.argv.slice(2);

async function main(): Promise<void> {
  switch (command) {
    case 'start':
      return startCommand('all');
    case 'api':
      return startCommand('api');
    case 'worker':
      return startCommand('worker');
    case 'migrate':
      return migrateCommand();
    case 'reindex':
      return reindexCommand(
        parseArgs({
          args: rest,
          options: { workspace: { type: 'string' }, collection: { type: 'string' } },
        }).values,
      );
    case 'seed':
      return seedCommand(parseArgs({ args: rest, options: { demo: { type: 'boolean' } } }).values);
    case 'token':
      return tokenCommand(
        parseArgs({
          args: rest,
          options: {
            role: { type: 'string' },
            workspace: { type: 'string' },
            subject: { type: 'string' },
            ttl: { type: 'string' },
          },
        }).values,
      );
    case 'schema':
      return schemaCommand(
        parseArgs({ args: rest, options: { graph: { type: 'string', default: 'admin' } } }).values,
      );
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return;
    default:
      console.error(`Unknown command "${command}".\n\n${USAGE}`);
      process.exitCode = 2;
  }
}

try {
  await main();
} catch (error) {
  // Expected failures (bad config, bad plugin, bad arguments) get one clear line, no stack.
  if (
    error instanceof AtriumError ||
    (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
  ) {
    console.error(`atrium: ${error.message}`);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
}
