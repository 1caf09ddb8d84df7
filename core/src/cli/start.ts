import { loadConfig } from '../kernel/config.ts';
import { ensureWorkspace } from '../modules/workspaces/service.ts';
import { createAtrium, type ProcessRole } from '../server.ts';

/** `atrium start`, `api` and `worker`: run until SIGTERM/SIGINT, then drain and exit. */
export async function startCommand(role: ProcessRole): Promise<void> {
  const config = await loadConfig();
  const atrium = await createAtrium({ config, role });
  const embedded = !config.settings.DATABASE_URL;
  if (embedded) {
    // The embedded default is for trying Atrium out: give it a workspace to try with.
    await ensureWorkspace(atrium.orm.em.fork(), 'demo', 'Demo');
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    atrium.logger.info({ signal }, 'shutting down: draining requests and jobs');
    atrium.stop().then(
      () => process.exit(0),
      (error) => {
        atrium.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (role === 'worker') {
    atrium.logger.info('atrium worker running');
    return;
  }
  const url = await atrium.listen();
  atrium.logger.info({ url: `${url}/graphql`, embedded }, 'atrium is ready');
  if (embedded) {
    console.log(
      `\nAtrium answers GraphQL at ${url}/graphql (embedded database under ${config.settings.ATRIUM_DATA_DIR}/).`,
    );
    console.log('Get a token with: npx atrium token --role admin --workspace demo\n');
  }
}
