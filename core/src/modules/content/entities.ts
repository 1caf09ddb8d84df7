import { defineEntity, p } from '@mikro-orm/postgresql';
import { createdAtColumn, idColumn, updatedAtColumn } from '../../db/columns.ts';
import { belongsToWorkspace } from '../workspaces/entities.ts';

export const fieldKinds = [
  'text',
  'rich_text',
  'number',
  'boolean',
  'date',
  'reference',
  'asset',
  'blocks',
  'json',
] as const;
export type FieldKind = (typeof fieldKinds)[number];

/** One field of a content type, stored as data and validated on every write of an entry. */
export interface FieldDefinition {
  key: string;
  kind: FieldKind;
  label?: string;
  required?: boolean;
  /** A localized field holds one value per locale; others one value for all locales. */
  localized?: boolean;
  /** For `reference`: the content type keys it may point at (any when empty). */
  referenceTypes?: string[];
  /** For `reference`: a list of entry keys instead of one. */
  multiple?: boolean;
  /** For `blocks`: the block type keys allowed in the list. */
  blockTypes?: string[];
  /** For `text`: limits; for `number`: min/max. */
  maxLength?: number;
  min?: number;
  max?: number;
}

/** The schema.org type an entry of this content type is published as (JSON-LD). */
export const schemaOrgTypes = ['Article', 'FAQPage', 'Product', 'HowTo', 'Organization', 'WebPage'] as const;
export type SchemaOrgType = (typeof schemaOrgTypes)[number];

/** A content type (or a block type) as data: fields that an admin UI can draw and writes must follow. */
export const ContentType = defineEntity({
  name: 'ContentType',
  tableName: 'content_type',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    key: p.string().length(100),
    name: p.string().length(200),
    description: p.text().nullable(),
    /** A block type is only used inside `blocks` fields, never as an entry of its own. */
    isBlock: p.boolean().default(false),
    fields: p.json<FieldDefinition[]>(),
    schemaOrgType: p.enum(schemaOrgTypes).default('WebPage'),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'key'] }],
});
export type ContentTypeEntity = InstanceType<typeof ContentType.class>;

/** A locale a workspace publishes in and where it falls back to: de-CH → de → en. */
export const ContentLocale = defineEntity({
  name: 'ContentLocale',
  tableName: 'content_locale',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    code: p.string().length(20),
    fallback: p.string().length(20).nullable(),
    isDefault: p.boolean().default(false),
  },
  uniques: [{ properties: ['workspace', 'code'] }],
});
export type ContentLocaleEntity = InstanceType<typeof ContentLocale.class>;

export const entryStatuses = ['draft', 'in_review', 'approved', 'published', 'archived'] as const;
export type EntryStatus = (typeof entryStatuses)[number];

export const entryVisibilities = ['public', 'internal'] as const;
export type EntryVisibility = (typeof entryVisibilities)[number];

/**
 * A piece of content addressed by a stable key. Its values live in versions: the working
 * version is edited and reviewed; the published version is what frontends and agents read.
 */
export const ContentEntry = defineEntity({
  name: 'ContentEntry',
  tableName: 'content_entry',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    type: () => p.manyToOne(ContentType),
    key: p.string().length(200),
    status: p.enum(entryStatuses).default('draft'),
    /** Internal entries (e.g. knowledge-base articles for agents) never reach the Public graph. */
    visibility: p.enum(entryVisibilities).default('public'),
    tags: p.json<string[]>().default('[]'),
    workingVersion: p.integer().default(1),
    publishedVersion: p.integer().nullable(),
    publishAt: p.datetime().nullable(),
    unpublishAt: p.datetime().nullable(),
    publishedAt: p.datetime().nullable(),
    publishedBy: p.string().length(200).nullable(),
    createdBy: p.string().length(200),
    updatedBy: p.string().length(200),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'key'] }],
  indexes: [{ properties: ['workspace', 'type', 'status'] }],
});
export type ContentEntryEntity = InstanceType<typeof ContentEntry.class>;

/** A variant shows other values to an audience: members of a segment, or a condition on traits. */
export interface ContentVariant {
  key: string;
  audience: { segmentKey?: string; condition?: Record<string, unknown> };
  /** Field values (per locale for localized fields) that replace the entry's for this audience. */
  fields: Record<string, unknown>;
}

/** The values of an entry at one version: `fields[locale][fieldKey]`, plus its variants. */
export const ContentVersion = defineEntity({
  name: 'ContentVersion',
  tableName: 'content_version',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    entry: () => p.manyToOne(ContentEntry).deleteRule('cascade'),
    version: p.integer(),
    fields: p.json<Record<string, Record<string, unknown>>>(),
    variants: p.json<ContentVariant[]>().default('[]'),
    /** Entries this version references, for reverse lookups and integrity checks. */
    references: p.json<string[]>().default('[]'),
    createdBy: p.string().length(200),
    createdAt: createdAtColumn(),
  },
  uniques: [{ properties: ['entry', 'version'] }],
});
export type ContentVersionEntity = InstanceType<typeof ContentVersion.class>;

/** Who moved an entry through the review workflow, when, and what they said. */
export const WorkflowTransition = defineEntity({
  name: 'WorkflowTransition',
  tableName: 'workflow_transition',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    entry: () => p.manyToOne(ContentEntry).deleteRule('cascade'),
    fromStatus: p.enum(entryStatuses),
    toStatus: p.enum(entryStatuses),
    version: p.integer(),
    actor: p.string().length(200),
    comment: p.text().nullable(),
    at: p.datetime(),
  },
  indexes: [{ properties: ['entry', 'at'] }],
});
export type WorkflowTransitionEntity = InstanceType<typeof WorkflowTransition.class>;
