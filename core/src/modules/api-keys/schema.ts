import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { scopeNames } from '../../auth/scopes.ts';
import type { AtriumBuilder } from '../../graphql/builder.ts';
import { enumValues, workspaceIdOf } from '../../graphql/helpers.ts';
import { NotFoundError, ValidationError } from '../../kernel/errors.ts';
import { ApiKey, type ApiKeyEntity } from './entities.ts';
import { createApiKey, revokeApiKey } from './service.ts';

/** Admins issue and revoke server-to-server keys; the secret is returned once. */
export function apiKeysSchema(builder: AtriumBuilder): void {
  const Role = builder.enumType('Role', {
    values: enumValues(scopeNames),
  });

  const ApiKeyRef = builder.objectRef<ApiKeyEntity>('ApiKey');
  builder.node(ApiKeyRef, {
    authScopes: { admin: true },
    id: { resolve: (k) => k.id },
    loadOne: (id, ctx) => ctx.em.findOne(ApiKey, { id }),
    fields: (t) => ({
      name: t.exposeString('name'),
      prefix: t.exposeString('prefix', { description: 'The start of the key, to recognise it' }),
      role: t.field({ type: Role, resolve: (k) => k.role }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
      revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    }),
  });

  builder.queryField('apiKeys', (t) =>
    t.connection({
      type: ApiKeyRef,
      authScopes: { admin: true },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
          ctx.em.find(ApiKey, {}, { orderBy: { createdAt: 'desc', id: 'asc' }, limit, offset }),
        ),
    }),
  );

  builder.relayMutationField(
    'createApiKey',
    {
      inputFields: (t) => ({
        name: t.string({ required: true }),
        role: t.field({ type: Role, required: true }),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: (_root, { input }, ctx) => createApiKey(ctx.em, workspaceIdOf(ctx), input),
    },
    {
      outputFields: (t) => ({
        apiKey: t.field({ type: ApiKeyRef, resolve: (p) => p.apiKey }),
        secret: t.string({
          description: 'Shown only in this answer; store it now',
          resolve: (p) => p.secret,
        }),
      }),
    },
  );

  builder.relayMutationField(
    'revokeApiKey',
    { inputFields: (t) => ({ id: t.globalID({ required: true, for: ApiKeyRef }) }) },
    {
      authScopes: { admin: true },
      errors: { types: [NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({ apiKey: await revokeApiKey(ctx.em, input.id.id) }),
    },
    { outputFields: (t) => ({ apiKey: t.field({ type: ApiKeyRef, resolve: (p) => p.apiKey }) }) },
  );
}
