import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../graphql/builder.ts';
import { workspaceIdOf } from '../../graphql/helpers.ts';
import { NotFoundError, ValidationError } from '../../kernel/errors.ts';
import { PersistedOperation, type PersistedOperationEntity } from './entities.ts';
import { registerPersistedOperations, removePersistedOperation } from './service.ts';

/** Admins keep the allow-list of documents their frontends run on the Public graph by hash. */
export function persistedOperationsSchema(builder: AtriumBuilder): void {
  const PersistedOperationRef = builder.objectRef<PersistedOperationEntity>('PersistedOperation');
  builder.node(PersistedOperationRef, {
    authScopes: { admin: true },
    description: 'A Public-graph document registered for this workspace, run by its hash',
    id: { resolve: (op) => op.id },
    loadOne: (id, ctx) => ctx.em.findOne(PersistedOperation, { id }),
    fields: (t) => ({
      sha256Hash: t.exposeString('hash', {
        description:
          'Send it as `extensions.persistedQuery.sha256Hash` (with `version: 1`) or as `documentId`',
      }),
      document: t.exposeString('document'),
      operationName: t.exposeString('operationName', { nullable: true }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  builder.queryField('persistedOperations', (t) =>
    t.connection({
      type: PersistedOperationRef,
      authScopes: { admin: true },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
          ctx.em.find(PersistedOperation, {}, { orderBy: { createdAt: 'desc', id: 'asc' }, limit, offset }),
        ),
    }),
  );

  builder.relayMutationField(
    'registerPersistedOperations',
    {
      inputFields: (t) => ({
        documents: t.stringList({
          required: true,
          description: 'GraphQL documents for the Public graph; each is stored under the SHA-256 of its text',
        }),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        persistedOperations: await registerPersistedOperations(
          ctx.em,
          workspaceIdOf(ctx),
          ctx.publicSchema,
          input.documents,
        ),
      }),
    },
    {
      outputFields: (t) => ({
        persistedOperations: t.field({
          type: [PersistedOperationRef],
          description: 'One per distinct document, in the order given',
          resolve: (p) => p.persistedOperations,
        }),
      }),
    },
  );

  builder.relayMutationField(
    'removePersistedOperation',
    { inputFields: (t) => ({ id: t.globalID({ required: true, for: PersistedOperationRef }) }) },
    {
      authScopes: { admin: true },
      errors: { types: [NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        deletedId: await removePersistedOperation(ctx.em, input.id.id),
      }),
    },
    {
      outputFields: (t) => ({
        deletedPersistedOperationId: t.globalID({
          resolve: (p) => ({ type: 'PersistedOperation', id: p.deletedId }),
        }),
      }),
    },
  );
}
