import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { type AnySegmentOperator, builtInSegmentOperators } from '../../profiles/segments/operators.ts';
import { checkVariants } from '../delivery/variants.ts';
import {
  ContentEntry,
  type ContentEntryEntity,
  type ContentTypeEntity,
  ContentVersion,
  type ContentVersionEntity,
  type EntryStatus,
  type EntryVisibility,
  WorkflowTransition,
  type WorkflowTransitionEntity,
} from '../entities.ts';
import { recordPublication } from './events.ts';
import {
  type BlockTypeShape,
  checkValues,
  type FoundReference,
  isObject,
  SHARED_LOCALE,
  type ValueContext,
} from './fields.ts';
import { defaultLocale, listLocales } from './locales.ts';
import { entryTypeByKey, listContentTypes } from './types.ts';

const ENTRY_KEY = /^[a-z0-9][a-z0-9/_.-]{0,199}$/;
const TAG = /^[\p{L}\p{N}][\p{L}\p{N} _.-]{0,59}$/u;

export type VersionFields = Record<string, Record<string, unknown>>;

export interface Page {
  limit: number;
  offset: number;
}

/** Who acts on content: their subject (recorded) and scopes (what they may do). */
export interface Actor {
  subject: string;
  scopes: readonly string[];
}

/**
 * Validates a version's values, `fields[locale][fieldKey]`: localized fields per workspace
 * locale, the others under `'*'`. Required localized fields must be filled in the default
 * locale (the other locales fall back to it); references must name live entries of allowed types.
 */
export async function checkVersionFields(
  em: EntityManager,
  type: ContentTypeEntity,
  raw: unknown,
  operators: readonly AnySegmentOperator[] = builtInSegmentOperators,
): Promise<{ fields: VersionFields; references: string[] }> {
  if (!isObject(raw)) throw new ValidationError('fields: an object of locale → field values', 'fields');
  const locales = await listLocales(em);
  const codes = new Set(locales.map((l) => l.code));
  const blockTypes = new Map<string, BlockTypeShape>(
    (await listContentTypes(em, { isBlock: true })).map((t) => [t.key, { key: t.key, fields: t.fields }]),
  );
  const ctx: ValueContext = { blockTypes, references: [], operators };
  const localized = type.fields.filter((f) => f.localized);
  const shared = type.fields.filter((f) => !f.localized);
  const fallbackTarget = defaultLocale(locales)?.code;
  const fields: VersionFields = {};

  for (const [locale, values] of Object.entries(raw)) {
    if (values === null || values === undefined) continue;
    if (locale !== SHARED_LOCALE && !codes.has(locale))
      throw new ValidationError(
        `fields.${locale}: "${locale}" is not a locale of this workspace`,
        `fields.${locale}`,
      );
    const wrong = locale === SHARED_LOCALE ? localized : shared;
    for (const field of wrong)
      if (isObject(values) && values[field.key] !== undefined) {
        const path = `fields.${locale}.${field.key}`;
        throw new ValidationError(
          field.localized
            ? `${path}: a localized field: give its value per locale`
            : `${path}: not localized: give its value under "${SHARED_LOCALE}"`,
          path,
        );
      }
  }
  if (localized.length && !fallbackTarget && Object.keys(raw).some((k) => k !== SHARED_LOCALE))
    throw new ValidationError('fields: this workspace has no locales yet: add one with setLocale', 'fields');

  for (const [locale, values] of Object.entries(raw)) {
    if (values === null || values === undefined || locale === SHARED_LOCALE) continue;
    fields[locale] = checkValues(localized, values, `fields.${locale}`, ctx, {
      required: locale === fallbackTarget,
      depth: 0,
    });
  }
  if (fallbackTarget && !(fallbackTarget in fields) && localized.some((f) => f.required))
    checkValues(localized, {}, `fields.${fallbackTarget}`, ctx, { required: true, depth: 0 });
  const sharedValues = checkValues(shared, raw[SHARED_LOCALE] ?? {}, `fields.${SHARED_LOCALE}`, ctx, {
    required: true,
    depth: 0,
  });
  if (Object.keys(sharedValues).length) fields[SHARED_LOCALE] = sharedValues;

  return { fields, references: await resolveReferences(em, ctx.references) };
}

/** Every referenced key must be an entry (not archived) of an allowed type; returns their ids. */
async function resolveReferences(em: EntityManager, found: FoundReference[]): Promise<string[]> {
  if (found.length === 0) return [];
  const keys = [...new Set(found.map((r) => r.key))];
  const entries = await em.find(ContentEntry, { key: { $in: keys } }, { populate: ['type'] });
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const ids = new Set<string>();
  for (const reference of found) {
    const target = byKey.get(reference.key);
    if (!target || target.status === 'archived')
      throw new ValidationError(`${reference.path}: no entry "${reference.key}"`, reference.path);
    if (reference.types.length && !reference.types.includes(target.type.key))
      throw new ValidationError(
        `${reference.path}: "${reference.key}" is a ${target.type.key}; allowed: ${reference.types.join(', ')}`,
        reference.path,
      );
    ids.add(target.id);
  }
  return [...ids];
}

function checkTags(tags: readonly string[] | null | undefined): string[] {
  const clean = [...new Set((tags ?? []).map((t) => t.trim()))];
  clean.forEach((tag, i) => {
    if (!TAG.test(tag))
      throw new ValidationError(`tags[${i}]: letters, digits, space, _ . - (up to 60)`, `tags[${i}]`);
  });
  return clean;
}

export interface EntryInput {
  type: string;
  key: string;
  fields: unknown;
  visibility?: EntryVisibility | null;
  tags?: readonly string[] | null;
  /** Variants for audiences: `[{ key, audience: { segmentKey } | { condition }, fields }]`. */
  variants?: unknown;
}

/** Creates an entry as a draft with its first working version. */
export async function createEntry(
  em: EntityManager,
  workspaceId: string,
  actor: Actor,
  input: EntryInput,
  operators: readonly AnySegmentOperator[] = builtInSegmentOperators,
): Promise<ContentEntryEntity> {
  if (!ENTRY_KEY.test(input.key))
    throw new ValidationError('key: lower-case letters, digits and / _ . - (up to 200)', 'key');
  return em.transactional(async (tem) => {
    const type = await entryTypeByKey(tem, input.type);
    if (await tem.findOne(ContentEntry, { key: input.key }))
      throw new ValidationError(`an entry with the key "${input.key}" exists`, 'key');
    const { fields, references } = await checkVersionFields(tem, type, input.fields, operators);
    const variants = checkVariants(input.variants, operators);
    const entry = tem.create(ContentEntry, {
      workspace: workspaceId,
      type,
      key: input.key,
      status: 'draft',
      visibility: input.visibility ?? 'public',
      tags: checkTags(input.tags),
      workingVersion: 1,
      createdBy: actor.subject,
      updatedBy: actor.subject,
    });
    tem.create(ContentVersion, {
      workspace: workspaceId,
      entry,
      version: 1,
      fields,
      variants,
      references,
      createdBy: actor.subject,
    });
    await tem.flush();
    return entry;
  });
}

export interface EntryUpdate {
  id: string;
  /** Per locale (or `'*'`): given locales replace their values, `null` removes a locale, others stay. */
  fields?: unknown;
  visibility?: EntryVisibility | null;
  tags?: readonly string[] | null;
  /** Replaces the variants when given. */
  variants?: unknown;
}

/**
 * Writes the working version. A published version is never changed: editing a live entry
 * starts a new working version while frontends keep reading the published one. A change
 * after submission or approval sends the entry back to draft: what was reviewed is not what is there.
 */
export async function updateEntry(
  em: EntityManager,
  workspaceId: string,
  actor: Actor,
  input: EntryUpdate,
  operators: readonly AnySegmentOperator[] = builtInSegmentOperators,
): Promise<ContentEntryEntity> {
  return em.transactional(async (tem) => {
    const entry = await findEntry(tem, input.id);
    if (entry.status === 'archived') throw new ValidationError('an archived entry cannot change', 'id');
    let visibilityOrTagsChanged = false;
    if (input.visibility && input.visibility !== entry.visibility) {
      entry.visibility = input.visibility;
      visibilityOrTagsChanged = true;
    }
    if (input.tags) {
      const tags = checkTags(input.tags);
      visibilityOrTagsChanged ||= JSON.stringify(tags) !== JSON.stringify(entry.tags);
      entry.tags = tags;
    }
    const newFields = input.fields !== undefined && input.fields !== null;
    const newVariants = input.variants !== undefined && input.variants !== null;
    if (newFields || newVariants) {
      if (newFields && !isObject(input.fields))
        throw new ValidationError('fields: an object of locale → field values', 'fields');
      const working = await versionOf(tem, entry, entry.workingVersion);
      const merged: Record<string, unknown> = {
        ...working.fields,
        ...(newFields ? (input.fields as object) : {}),
      };
      const { fields, references } = await checkVersionFields(tem, entry.type, merged, operators);
      const variants = newVariants ? checkVariants(input.variants, operators) : working.variants;
      if (entry.publishedVersion === entry.workingVersion) {
        entry.workingVersion += 1;
        tem.create(ContentVersion, {
          workspace: workspaceId,
          entry,
          version: entry.workingVersion,
          fields,
          variants,
          references,
          createdBy: actor.subject,
        });
      } else {
        working.fields = fields;
        working.variants = variants;
        working.references = references;
      }
      if (entry.status !== 'draft')
        recordTransition(tem, entry, 'draft', actor, 'edited: back to draft for review');
    }
    entry.updatedBy = actor.subject;
    // Indexes follow published entries: a live entry's new visibility or tags is announced again.
    if (visibilityOrTagsChanged && typeof entry.publishedVersion === 'number')
      await recordPublication(tem, entry, 'content.published', entry.publishedVersion);
    await tem.flush();
    return entry;
  });
}

/** Moves an entry to `to` and writes down who did it, when, at which version and why. */
export function recordTransition(
  em: EntityManager,
  entry: ContentEntryEntity,
  to: EntryStatus,
  actor: Actor,
  comment: string | null = null,
): WorkflowTransitionEntity {
  const transition = em.create(WorkflowTransition, {
    workspace: entry.workspace,
    entry,
    fromStatus: entry.status,
    toStatus: to,
    version: entry.workingVersion,
    actor: actor.subject,
    comment,
    at: new Date(),
  });
  entry.status = to;
  entry.updatedBy = actor.subject;
  return transition;
}

export async function findEntry(em: EntityManager, id: string): Promise<ContentEntryEntity> {
  const entry = await em.findOne(ContentEntry, { id }, { populate: ['type'] });
  if (!entry) throw new NotFoundError('Content entry');
  return entry;
}

export async function versionOf(
  em: EntityManager,
  entry: ContentEntryEntity,
  version: number,
): Promise<ContentVersionEntity> {
  const found = await em.findOne(ContentVersion, { entry, version });
  if (!found) throw new NotFoundError(`Version ${version} of entry "${entry.key}"`);
  return found;
}

export async function listVersions(
  em: EntityManager,
  entry: ContentEntryEntity,
): Promise<ContentVersionEntity[]> {
  return em.find(ContentVersion, { entry }, { orderBy: { version: 'desc' } });
}

export async function listTransitions(
  em: EntityManager,
  entry: ContentEntryEntity,
): Promise<WorkflowTransitionEntity[]> {
  return em.find(WorkflowTransition, { entry }, { orderBy: { at: 'asc', id: 'asc' } });
}

/** Keys of entries (not archived) whose working or published version references `entryId`. */
export async function referencedBy(
  em: EntityManager,
  workspaceId: string,
  entryId: string,
): Promise<string[]> {
  const rows = await sql<{ key: string }>(
    em,
    `select distinct e.key from content_version v join content_entry e on e.id = v.entry_id
     where v.workspace_id = $1 and v."references" ? $2 and e.id <> $2::uuid and e.status <> 'archived'
       and (v.version = e.working_version or v.version = e.published_version)
     order by e.key`,
    [workspaceId, entryId],
  );
  return rows.map((r) => r.key);
}

export interface EntryFilter {
  type?: string | null;
  status?: EntryStatus | null;
  /** Entries whose working version has values in this locale. */
  locale?: string | null;
  tag?: string | null;
}

/** Entries of the workspace, most recently changed first. */
export async function listEntries(
  em: EntityManager,
  workspaceId: string,
  filter: EntryFilter,
  page: Page,
): Promise<ContentEntryEntity[]> {
  const rows = await sql<{ id: string }>(
    em,
    `select e.id from content_entry e join content_type t on t.id = e.type_id
     left join content_version v on v.entry_id = e.id and v.version = e.working_version
     where e.workspace_id = $1 and ($2::text is null or t.key = $2) and ($3::text is null or e.status = $3)
       and ($4::text is null or v.fields ? $4) and ($5::text is null or e.tags ? $5)
     order by e.updated_at desc, e.id limit $6 offset $7`,
    [
      workspaceId,
      filter.type ?? null,
      filter.status ?? null,
      filter.locale ?? null,
      filter.tag ?? null,
      page.limit,
      page.offset,
    ],
  );
  return entriesInOrder(
    em,
    rows.map((r) => r.id),
  );
}

export async function entriesInOrder(em: EntityManager, ids: string[]): Promise<ContentEntryEntity[]> {
  if (ids.length === 0) return [];
  const entries = await em.find(ContentEntry, { id: { $in: ids } }, { populate: ['type'] });
  const byId = new Map(entries.map((e) => [e.id, e]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
