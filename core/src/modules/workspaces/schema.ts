import type { AtriumBuilder } from '../../graphql/builder.ts';
import { workspaceIdOf } from '../../graphql/helpers.ts';
import type { CoreRefs } from '../../graphql/refs.ts';
import { NotFoundError, ValidationError } from '../../kernel/errors.ts';
import { updateWorkspaceSecurity } from './service.ts';

/** Admins choose which browser origins may call and whether the Public graph runs registered operations only. */
export function workspacesSchema(builder: AtriumBuilder, refs: CoreRefs): void {
  builder.objectFields(refs.Workspace, (t) => ({
    allowedOrigins: t.exposeStringList('allowedOrigins', {
      subGraphs: ['admin'],
      authScopes: { admin: true },
      description: "Browser origins that may call with this workspace's credentials; empty: any origin",
    }),
    persistedOperationsOnly: t.exposeBoolean('persistedOperationsOnly', {
      subGraphs: ['admin'],
      authScopes: { admin: true },
      description: 'The Public graph runs only operations registered with registerPersistedOperations',
    }),
  }));

  builder.relayMutationField(
    'updateWorkspaceSecurity',
    {
      inputFields: (t) => ({
        allowedOrigins: t.stringList({
          description: 'Replaces the list (`scheme://host[:port]` each); [] lets any origin call again',
        }),
        persistedOperationsOnly: t.boolean(),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        workspace: await updateWorkspaceSecurity(ctx.em, workspaceIdOf(ctx), input),
      }),
    },
    { outputFields: (t) => ({ workspace: t.field({ type: refs.Workspace, resolve: (p) => p.workspace }) }) },
  );
}
