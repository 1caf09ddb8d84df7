import { loadConfig } from '../kernel/config.ts';
import { ValidationError } from '../kernel/errors.ts';
import { createWriteKey } from '../modules/profiles/service/write-keys.ts';
import { ensureWorkspace } from '../modules/workspaces/service.ts';
import { createAtrium } from '../server.ts';

/** `atrium seed --demo`: the demo workspace, idempotently, and a fresh write key for it. */
export async function seedCommand(options: { demo?: boolean }): Promise<void> {
  if (!options.demo) throw new ValidationError('say what to seed: atrium seed --demo');
  const config = await loadConfig();
  // Like `start`: migrations run here only on the embedded database; elsewhere `atrium migrate` first.
  const atrium = await createAtrium({ config, role: 'api' });
  try {
    const workspace = await ensureWorkspace(atrium.orm.em.fork(), 'demo', 'Demo');
    console.log(`WORKSPACE=${workspace.slug}`);
    // Only a hash of a write key is stored, so an existing key can never be shown again:
    // every run makes a new "demo" key, and the older ones keep working until revoked.
    const { key } = await createWriteKey(atrium.orm.em.fork(), workspace.id, { name: 'demo' });
    console.log(`WRITE_KEY=${key}`);
  } finally {
    await atrium.stop();
  }
}
