import { defineEntity, p } from '@mikro-orm/postgresql';

/** A tenant or brand. Every customer row belongs to exactly one workspace. */
export const Workspace = defineEntity({
  name: 'Workspace',
  tableName: 'workspace',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => crypto.randomUUID()),
    slug: p.string().length(63).unique(),
    name: p.string().length(200),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export type WorkspaceEntity = InstanceType<typeof Workspace.class>;
