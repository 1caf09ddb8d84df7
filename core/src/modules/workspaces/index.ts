import { defineModule } from '../../kernel/plugin.ts';
import { Workspace } from './entities.ts';

/** Tenants and brands. Its GraphQL type is part of the core types every module builds on. */
export const workspacesModule = defineModule({
  name: 'workspaces',
  entities: [Workspace],
});
