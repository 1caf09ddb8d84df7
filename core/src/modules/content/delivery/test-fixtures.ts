import type { MikroORM } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import type { ContentVariant, FieldDefinition, SchemaOrgType } from '../entities.ts';

/**
 * Content rows written straight to the tables, so delivery tests do not depend on the authoring
 * services: what a published entry looks like once the workflow has run.
 */
export async function seedLocales(
  orm: MikroORM,
  workspaceId: string,
  locales: { code: string; fallback?: string; isDefault?: boolean }[],
): Promise<void> {
  for (const l of locales)
    await sql(
      orm.em.fork(),
      `insert into content_locale (id, workspace_id, code, fallback, is_default) values ($1, $2, $3, $4, $5)`,
      [crypto.randomUUID(), workspaceId, l.code, l.fallback ?? null, l.isDefault ?? false],
    );
}

export async function seedType(
  orm: MikroORM,
  workspaceId: string,
  type: {
    key: string;
    name?: string;
    schemaOrgType?: SchemaOrgType;
    fields?: FieldDefinition[];
    isBlock?: boolean;
  },
): Promise<string> {
  const id = crypto.randomUUID();
  await sql(
    orm.em.fork(),
    `insert into content_type (id, workspace_id, key, name, is_block, fields, schema_org_type, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6::jsonb, $7, now(), now())`,
    [
      id,
      workspaceId,
      type.key,
      type.name ?? type.key,
      type.isBlock ?? false,
      JSON.stringify(type.fields ?? []),
      type.schemaOrgType ?? 'WebPage',
    ],
  );
  return id;
}

export interface SeedEntry {
  typeId: string;
  key: string;
  /** `values[locale][field]`, `'*'` for shared fields. */
  values: Record<string, Record<string, unknown>>;
  variants?: ContentVariant[] | unknown[];
  visibility?: 'public' | 'internal';
  /** False leaves it a draft that was never published. */
  published?: boolean;
  tags?: string[];
  publishedAt?: Date;
}

export async function seedEntry(orm: MikroORM, workspaceId: string, entry: SeedEntry): Promise<string> {
  const id = crypto.randomUUID();
  const published = entry.published ?? true;
  const em = orm.em.fork();
  await sql(
    em,
    `insert into content_entry (id, workspace_id, type_id, key, status, visibility, tags, working_version,
       published_version, published_at, published_by, created_by, updated_by, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, 1, $8, $9, $10, 'test', 'test', now(), now())`,
    [
      id,
      workspaceId,
      entry.typeId,
      entry.key,
      published ? 'published' : 'draft',
      entry.visibility ?? 'public',
      JSON.stringify(entry.tags ?? []),
      published ? 1 : null,
      published ? (entry.publishedAt ?? new Date()) : null,
      published ? 'test' : null,
    ],
  );
  await sql(
    em,
    `insert into content_version (id, workspace_id, entry_id, version, fields, variants, "references", created_by, created_at)
     values ($1, $2, $3, 1, $4::jsonb, $5::jsonb, '[]', 'test', now())`,
    [
      crypto.randomUUID(),
      workspaceId,
      id,
      JSON.stringify(entry.values),
      JSON.stringify(entry.variants ?? []),
    ],
  );
  return id;
}

/** A new published version of an entry (what a re-publish leaves behind). */
export async function republish(
  orm: MikroORM,
  entryId: string,
  values: Record<string, Record<string, unknown>>,
) {
  const em = orm.em.fork();
  const [row] = await sql<{ workspace_id: string; v: number }>(
    em,
    `select workspace_id::text, published_version + 1 as v from content_entry where id = $1`,
    [entryId],
  );
  const { workspace_id, v } = row as { workspace_id: string; v: number };
  await sql(
    em,
    `insert into content_version (id, workspace_id, entry_id, version, fields, variants, "references", created_by, created_at)
     values ($1, $2, $3, $4, $5::jsonb, '[]', '[]', 'test', now())`,
    [crypto.randomUUID(), workspace_id, entryId, v, JSON.stringify(values)],
  );
  await sql(
    em,
    `update content_entry set published_version = $2, working_version = $2, published_at = now() where id = $1`,
    [entryId, v],
  );
}

/** A segment whose condition the member really meets (so recomputes keep it), with that member. */
export async function seedSegmentMember(
  orm: MikroORM,
  workspaceId: string,
  segmentKey: string,
  profileId: string,
  condition: Record<string, unknown>,
): Promise<void> {
  const em = orm.em.fork();
  const segmentId = crypto.randomUUID();
  await sql(
    em,
    `insert into segment (id, workspace_id, key, name, condition, status, created_at, updated_at)
     values ($1, $2, $3, $3, $4::jsonb, 'active', now(), now())`,
    [segmentId, workspaceId, segmentKey, JSON.stringify(condition)],
  );
  await sql(
    em,
    `insert into segment_membership (id, workspace_id, segment_id, profile_id, entered_at) values ($1, $2, $3, $4, now())`,
    [crypto.randomUUID(), workspaceId, segmentId, profileId],
  );
}

/** A rich-text document of paragraphs. */
export const doc = (...paragraphs: string[]) => ({
  type: 'doc',
  children: paragraphs.map((text) => ({ type: 'paragraph', children: [{ text }] })),
});
