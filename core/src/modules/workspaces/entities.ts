import { defineEntity, p } from '@mikro-orm/postgresql';
import { createdAtColumn, idColumn } from '../../db/columns.ts';

/** A tenant or brand. Every customer row belongs to exactly one workspace. */
export const Workspace = defineEntity({
  name: 'Workspace',
  tableName: 'workspace',
  properties: {
    id: idColumn(),
    slug: p.string().length(63).unique(),
    name: p.string().length(200),
    createdAt: createdAtColumn(),
    /** Browser origins (`scheme://host[:port]`) that may call with this workspace's credentials; empty: any. */
    allowedOrigins: p.array().default([]),
    /** The Public graph runs only operations registered for this workspace (persisted operations). */
    persistedOperationsOnly: p.boolean().default(false),
  },
});

export type WorkspaceEntity = InstanceType<typeof Workspace.class>;

/** The column that makes an entity workspace-scoped (and so confined by the workspace filter). */
export const belongsToWorkspace = () => p.manyToOne(Workspace).mapToPk();
