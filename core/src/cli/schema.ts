import { printConfiguredSchema } from '../graphql/print.ts';
import { loadConfig } from '../kernel/config.ts';
import { ValidationError } from '../kernel/errors.ts';

/** `atrium schema`: the printed SDL of this configuration's Admin or Public graph. */
export async function schemaCommand(options: { graph?: string }): Promise<void> {
  if (options.graph !== 'admin' && options.graph !== 'public') {
    throw new ValidationError('--graph must be admin or public', 'graph');
  }
  const { plugins } = await loadConfig();
  process.stdout.write(printConfiguredSchema(plugins, options.graph));
}
