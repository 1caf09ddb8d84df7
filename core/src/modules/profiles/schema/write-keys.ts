import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../../graphql/builder.ts';
import { workspaceIdOf } from '../../../graphql/helpers.ts';
import type { CoreRefs } from '../../../graphql/refs.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import { WriteKey, type WriteKeyEntity } from '../entities.ts';
import { createWriteKey, revokeWriteKey, writeKeyAuthenticatorOf } from '../service/write-keys.ts';

/** Admins issue and revoke the keys websites and apps send events with; the key is shown once. */
export function writeKeysSchema(builder: AtriumBuilder, _refs: CoreRefs, runtime: ModuleRuntime): void {
  const WriteKeyRef = builder.objectRef<WriteKeyEntity>('WriteKey');
  builder.node(WriteKeyRef, {
    description:
      'A key for the Segment-compatible tracking API (HTTP Basic user name); it can only send events',
    authScopes: { admin: true },
    id: { resolve: (k) => k.id },
    loadOne: (id, ctx) => ctx.em.findOne(WriteKey, { id }),
    fields: (t) => ({
      name: t.exposeString('name'),
      prefix: t.exposeString('prefix', { description: 'The start of the key, to recognise it' }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    }),
  });

  builder.queryField('writeKeys', (t) =>
    t.connection({
      type: WriteKeyRef,
      authScopes: { admin: true },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
          ctx.em.find(WriteKey, {}, { orderBy: { createdAt: 'desc', id: 'asc' }, limit, offset }),
        ),
    }),
  );

  builder.relayMutationField(
    'createWriteKey',
    { inputFields: (t) => ({ name: t.string({ required: true }) }) },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: (_root, { input }, ctx) => createWriteKey(ctx.em, workspaceIdOf(ctx), input),
    },
    {
      outputFields: (t) => ({
        writeKey: t.field({ type: WriteKeyRef, resolve: (p) => p.writeKey }),
        key: t.string({ description: 'Shown only in this answer; store it now', resolve: (p) => p.key }),
      }),
    },
  );

  builder.relayMutationField(
    'revokeWriteKey',
    { inputFields: (t) => ({ id: t.globalID({ required: true, for: WriteKeyRef }) }) },
    {
      authScopes: { admin: true },
      errors: { types: [NotFoundError] },
      resolve: async (_root, { input }, ctx) => {
        const writeKey = await revokeWriteKey(ctx.em, input.id.id);
        writeKeyAuthenticatorOf(runtime.orm).forget(writeKey.id);
        return { writeKey };
      },
    },
    { outputFields: (t) => ({ writeKey: t.field({ type: WriteKeyRef, resolve: (p) => p.writeKey }) }) },
  );
}
