import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { isUuid } from '../../../kernel/ids.ts';
import { type AnySegmentOperator, builtInSegmentOperators } from '../../profiles/segments/operators.ts';
import {
  ContentEntry,
  type ContentEntryEntity,
  type ContentVariant,
  ContentVersion,
  type ContentVersionEntity,
} from '../entities.ts';
import { SHARED_LOCALE } from '../service/fields.ts';
import { readChain, workspaceLocales } from './locales.ts';
import { AudienceJudge, chooseVariant } from './variants.ts';

export const DEFAULT_CONTENT_REASON = 'no variant matched: default content';

type LocalizedValues = Record<string, Record<string, unknown>>;

/** A block whose variants were considered, where it sits and what was chosen. */
export interface BlockChoice {
  /** Path of the block, e.g. `body[2]` or `body[2].fields.items[0]`. */
  path: string;
  type: string;
  id: string | null;
  variant: { key: string } | null;
  reason: string;
}

export interface ResolvedContent {
  entry: ContentEntryEntity;
  version: ContentVersionEntity;
  /** The locale asked for; `fieldLocales` says where each value came from along its fallback chain. */
  locale: string;
  fields: Record<string, unknown>;
  fieldLocales: Record<string, string>;
  variant: { key: string } | null;
  reason: string;
  blocks: BlockChoice[];
}

export interface ResolveOptions {
  locale: string;
  profileId?: string | null;
  /** Internal entries (agents only) are found only when asked for; the Public graph never asks. */
  includeInternal?: boolean;
  /** The segment operators conditions are evaluated with (the host's, plugins included). */
  operators?: readonly AnySegmentOperator[];
  now?: Date;
}

/**
 * The published content of `key` for one reader: the first entry-level variant whose audience
 * matches, then the same for every block that has variants, values resolved along the locale's
 * fallback chain, and the reason for each choice. Read only.
 */
export async function resolveContent(
  em: EntityManager,
  workspaceId: string,
  key: string,
  options: ResolveOptions,
): Promise<ResolvedContent> {
  const now = options.now ?? new Date();
  if (options.profileId && !isUuid(options.profileId))
    throw new ValidationError('profileId must be a profile id (a UUID)', 'profileId');
  const chain = readChain(await workspaceLocales(em, workspaceId), options.locale);
  if (!chain)
    throw new ValidationError(`locale "${options.locale}" is not a locale of this workspace`, 'locale');
  // The workspace is explicit, so callers outside a request (jobs, the assistant) need no filter set.
  const entry = await em.findOne(
    ContentEntry,
    { workspace: workspaceId, key },
    { populate: ['type'], filters: false },
  );
  const what = `published content "${key}"`;
  if (!entry || !isDelivered(entry, now) || (entry.visibility === 'internal' && !options.includeInternal))
    throw new NotFoundError(what);
  const version = await em.findOne(
    ContentVersion,
    { workspace: workspaceId, entry: entry.id, version: entry.publishedVersion as number },
    { filters: false },
  );
  if (!version) throw new NotFoundError(what);

  const judge = new AudienceJudge(
    em,
    workspaceId,
    options.profileId ?? null,
    options.operators ?? builtInSegmentOperators,
  );
  const choice = await chooseVariant(version.variants ?? [], judge);
  const values = choice ? overlay(version.fields, choice.variant.fields) : version.fields;
  const { fields, fieldLocales } = resolveLocalized(values, chain);
  if (!isValidAt(fields, now)) throw new NotFoundError(what);
  const blocks: BlockChoice[] = [];
  const resolvedFields = await resolveBlocks(fields, judge, blocks);
  return {
    entry,
    version,
    locale: options.locale,
    fields: resolvedFields,
    fieldLocales,
    variant: choice ? { key: choice.variant.key } : null,
    reason: choice?.reason ?? DEFAULT_CONTENT_REASON,
    blocks,
  };
}

/** Published, not archived, not past its unpublish time. */
export function isDelivered(
  entry: { publishedVersion?: number | null; status: string; unpublishAt?: Date | null },
  now: Date,
): boolean {
  return (
    entry.publishedVersion !== null &&
    entry.publishedVersion !== undefined &&
    entry.status !== 'archived' &&
    (!entry.unpublishAt || entry.unpublishAt > now)
  );
}

/** `validFrom` / `validUntil` fields, when a type has them (knowledge articles do); a date-only `validUntil` includes its day. */
export function isValidAt(fields: Record<string, unknown>, now: Date): boolean {
  const from = dateOf(fields.validFrom, false);
  const until = dateOf(fields.validUntil, true);
  return (!from || from <= now) && (!until || now < until);
}

function dateOf(value: unknown, endOfDay: boolean): Date | null {
  if (typeof value !== 'string' || !value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  if (endOfDay && /^\d{4}-\d{2}-\d{2}$/.test(value)) date.setUTCDate(date.getUTCDate() + 1);
  return date;
}

/** A variant's values over the entry's, locale by locale (`'*'` for shared fields). */
export function overlay(values: LocalizedValues, variantFields: Record<string, unknown>): LocalizedValues {
  const out: LocalizedValues = { ...values };
  for (const [locale, localeValues] of Object.entries(variantFields)) {
    if (typeof localeValues !== 'object' || localeValues === null || Array.isArray(localeValues)) continue;
    out[locale] = { ...(values[locale] ?? {}), ...(localeValues as Record<string, unknown>) };
  }
  return out;
}

/** Each field's value from the first locale of the chain that has one, then the shared values. */
export function resolveLocalized(
  values: LocalizedValues,
  chain: readonly string[],
): { fields: Record<string, unknown>; fieldLocales: Record<string, string> } {
  const fields: Record<string, unknown> = {};
  const fieldLocales: Record<string, string> = {};
  for (const locale of [...chain, SHARED_LOCALE]) {
    for (const [key, value] of Object.entries(values[locale] ?? {})) {
      if (key in fields || value === undefined || value === null || value === '') continue;
      fields[key] = value;
      fieldLocales[key] = locale;
    }
  }
  return { fields, fieldLocales };
}

interface BlockItem {
  type: string;
  id?: string;
  fields: Record<string, unknown>;
  variants?: ContentVariant[];
}

const isBlock = (value: unknown): value is BlockItem =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as BlockItem).type === 'string' &&
  typeof (value as BlockItem).fields === 'object' &&
  (value as BlockItem).fields !== null;

/**
 * Blocks with variants get the first matching one's `fields` over their own; nested blocks too.
 * `variants` never leave the server: readers see only the content chosen for them.
 */
export async function resolveBlocks(
  fields: Record<string, unknown>,
  judge: AudienceJudge | null,
  choices: BlockChoice[],
  path = '',
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!Array.isArray(value) || !value.some(isBlock)) {
      out[key] = value;
      continue;
    }
    const items: unknown[] = [];
    for (const [index, item] of value.entries()) {
      if (!isBlock(item)) {
        items.push(item);
        continue;
      }
      const at = `${path}${key}[${index}]`;
      let blockFields = item.fields;
      if (Array.isArray(item.variants) && item.variants.length > 0) {
        const choice = judge ? await chooseVariant(item.variants, judge) : null;
        if (choice) blockFields = { ...blockFields, ...choice.variant.fields };
        choices.push({
          path: at,
          type: item.type,
          id: item.id ?? null,
          variant: choice ? { key: choice.variant.key } : null,
          reason: choice?.reason ?? DEFAULT_CONTENT_REASON,
        });
      }
      const { variants: _variants, ...rest } = item;
      items.push({ ...rest, fields: await resolveBlocks(blockFields, judge, choices, `${at}.fields.`) });
    }
    out[key] = items;
  }
  return out;
}
