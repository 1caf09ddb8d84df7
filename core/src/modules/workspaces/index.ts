import { defineModule } from '../../kernel/plugin.ts';
import { Workspace } from './entities.ts';
import { workspacesSchema } from './schema.ts';

/**
 * Tenants and brands. Its GraphQL type is part of the core types every module builds on; this
 * module adds the workspace's security settings (allowed origins, persisted operations only).
 */
export const workspacesModule = defineModule({
  name: 'workspaces',
  entities: [Workspace],
  schema: workspacesSchema,
});
