import { defineEntity, p } from '@mikro-orm/postgresql';
import { scopeNames } from '../../auth/scopes.ts';
import { createdAtColumn, idColumn } from '../../db/columns.ts';
import { belongsToWorkspace } from '../workspaces/entities.ts';

/** A server-to-server credential; only a SHA-256 hash of the secret is stored. */
export const ApiKey = defineEntity({
  name: 'ApiKey',
  tableName: 'api_key',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    name: p.string().length(200),
    /** The first characters of the secret, to tell keys apart in lists and logs. */
    prefix: p.string().length(16).index(),
    secretHash: p.string().length(64).unique().hidden(),
    role: p.enum(scopeNames),
    createdAt: createdAtColumn(),
    lastUsedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
  },
});

export type ApiKeyEntity = InstanceType<typeof ApiKey.class>;
