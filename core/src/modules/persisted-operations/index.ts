import { defineModule } from '../../kernel/plugin.ts';
import { PersistedOperation } from './entities.ts';
import { persistedOperationsSchema } from './schema.ts';

/** Per-workspace allow-lists of Public-graph documents, run by hash (see docs/security.md). */
export const persistedOperationsModule = defineModule({
  name: 'persisted-operations',
  entities: [PersistedOperation],
  schema: persistedOperationsSchema,
});
