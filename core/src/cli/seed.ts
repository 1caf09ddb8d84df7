import { loadConfig } from '../kernel/config.ts';
import { ValidationError } from '../kernel/errors.ts';
import { ensureWorkspace } from '../modules/workspaces/service.ts';
import { createAtrium } from '../server.ts';

/** `atrium seed --demo`: the demo workspace, idempotently. */
export async function seedCommand(options: { demo?: boolean }): Promise<void> {
  if (!options.demo) throw new ValidationError('say what to seed: atrium seed --demo');
  const config = await loadConfig();
  const atrium = await createAtrium({ config, role: 'api', migrateOnStart: true });
  try {
    const workspace = await ensureWorkspace(atrium.orm.em.fork(), 'demo', 'Demo');
    console.log(`WORKSPACE=${workspace.slug}`);
  } finally {
    await atrium.stop();
  }
}
