import { defineModule } from '../../kernel/plugin.ts';
import { ApiKey } from './entities.ts';
import { apiKeysSchema } from './schema.ts';

/** Hashed keys for server-to-server calls, bound to one workspace and one role. */
export const apiKeysModule = defineModule({
  name: 'api-keys',
  entities: [ApiKey],
  schema: apiKeysSchema,
});
