import { defineEntity, p } from '@mikro-orm/postgresql';
import { createdAtColumn, idColumn } from '../../db/columns.ts';
import { belongsToWorkspace } from '../workspaces/entities.ts';

/** A Public-graph document a workspace's frontends may run by its SHA-256 hash. */
export const PersistedOperation = defineEntity({
  name: 'PersistedOperation',
  tableName: 'persisted_operation',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    /** Lower-case hex SHA-256 of `document` exactly as registered: what clients send. */
    hash: p.string().length(64),
    document: p.text(),
    /** The name of the document's first operation, to tell entries apart in lists; null when anonymous. */
    operationName: p.string().length(200).nullable(),
    createdAt: createdAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'hash'] }],
});

export type PersistedOperationEntity = InstanceType<typeof PersistedOperation.class>;
