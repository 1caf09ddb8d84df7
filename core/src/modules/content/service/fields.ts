import { ValidationError } from '../../../kernel/errors.ts';
import type { AnySegmentOperator } from '../../profiles/segments/operators.ts';
import { checkVariants } from '../delivery/variants.ts';
import { type FieldDefinition, type FieldKind, fieldKinds } from '../entities.ts';

/** Where a version keeps the values of fields that are not localized: `fields['*'][key]`. */
export const SHARED_LOCALE = '*';

const FIELD_KEY = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;
/** Opening or closing tags: rich text is a node tree, never HTML. */
const HTML_TAG = /<\/?[a-zA-Z][^>]*>/;
const MIME_TYPE = /^[\w.+-]+\/[\w.+-]+$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const MAX_BLOCK_DEPTH = 5;

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A block type as validation needs it. */
export interface BlockTypeShape {
  key: string;
  fields: FieldDefinition[];
}

/** Validates a content type's field definitions; the error names the definition (`fields[2].kind`). */
export function checkFieldDefinitions(
  raw: FieldDefinition[],
  known: { entryTypes: Set<string>; blockTypes: Set<string> },
): FieldDefinition[] {
  const seen = new Set<string>();
  return raw.map((field, i) => {
    const at = `fields[${i}]`;
    if (!FIELD_KEY.test(field.key ?? ''))
      throw new ValidationError(`${at}.key: a letter, then letters, digits or _ (up to 64)`, `${at}.key`);
    if (seen.has(field.key))
      throw new ValidationError(`${at}.key: "${field.key}" is defined twice`, `${at}.key`);
    seen.add(field.key);
    if (!(fieldKinds as readonly string[]).includes(field.kind))
      throw new ValidationError(`${at}.kind: one of ${fieldKinds.join(', ')}`, `${at}.kind`);
    const only = (option: keyof FieldDefinition, kinds: FieldKind[]) => {
      if (field[option] !== undefined && field[option] !== null && !kinds.includes(field.kind))
        throw new ValidationError(
          `${at}.${option} applies only to ${kinds.join(', ')} fields`,
          `${at}.${option}`,
        );
    };
    only('referenceTypes', ['reference']);
    only('multiple', ['reference']);
    only('blockTypes', ['blocks']);
    only('maxLength', ['text']);
    only('min', ['number']);
    only('max', ['number']);
    for (const key of field.referenceTypes ?? [])
      if (!known.entryTypes.has(key))
        throw new ValidationError(`${at}.referenceTypes: no content type "${key}"`, `${at}.referenceTypes`);
    for (const key of field.blockTypes ?? [])
      if (!known.blockTypes.has(key))
        throw new ValidationError(`${at}.blockTypes: no block type "${key}"`, `${at}.blockTypes`);
    if (field.maxLength !== undefined && field.maxLength !== null && !(field.maxLength > 0))
      throw new ValidationError(`${at}.maxLength must be positive`, `${at}.maxLength`);
    const clean: FieldDefinition = { key: field.key, kind: field.kind };
    if (field.label) clean.label = field.label;
    if (field.required) clean.required = true;
    if (field.localized) clean.localized = true;
    if (field.referenceTypes?.length) clean.referenceTypes = [...field.referenceTypes];
    if (field.multiple) clean.multiple = true;
    if (field.blockTypes?.length) clean.blockTypes = [...field.blockTypes];
    if (typeof field.maxLength === 'number') clean.maxLength = field.maxLength;
    if (typeof field.min === 'number') clean.min = field.min;
    if (typeof field.max === 'number') clean.max = field.max;
    return clean;
  });
}

/** A reference found while validating, checked against the database afterwards. */
export interface FoundReference {
  path: string;
  key: string;
  types: string[];
}

export interface ValueContext {
  blockTypes: ReadonlyMap<string, BlockTypeShape>;
  references: FoundReference[];
  /** Segment operators, for the audiences of block variants. */
  operators: readonly AnySegmentOperator[];
}

function fail(path: string, message: string): never {
  throw new ValidationError(`${path}: ${message}`, path);
}

/** Checks the values of one set of fields (a locale's, or a block's) against their definitions. */
export function checkValues(
  definitions: FieldDefinition[],
  values: unknown,
  path: string,
  ctx: ValueContext,
  options: { required: boolean; depth: number },
): Record<string, unknown> {
  if (!isObject(values)) return fail(path, 'must be an object of field values');
  const byKey = new Map(definitions.map((d) => [d.key, d]));
  for (const key of Object.keys(values))
    if (!byKey.has(key)) fail(`${path}.${key}`, 'no such field in this type');
  const out: Record<string, unknown> = {};
  for (const definition of definitions) {
    const value = values[definition.key];
    const at = `${path}.${definition.key}`;
    if (value === undefined || value === null || value === '') {
      if (options.required && definition.required) fail(at, 'is required');
      continue;
    }
    out[definition.key] = checkValue(definition, value, at, ctx, options.depth);
  }
  return out;
}

function checkValue(
  field: FieldDefinition,
  value: unknown,
  at: string,
  ctx: ValueContext,
  depth: number,
): unknown {
  switch (field.kind) {
    case 'text':
      if (typeof value !== 'string') return fail(at, 'must be a string');
      if (field.maxLength && value.length > field.maxLength)
        fail(at, `must be at most ${field.maxLength} characters`);
      return value;
    case 'rich_text':
      checkRichText(value, at);
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail(at, 'must be a number');
      if (field.min !== undefined && value < field.min) fail(at, `must be at least ${field.min}`);
      if (field.max !== undefined && value > field.max) fail(at, `must be at most ${field.max}`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') fail(at, 'must be true or false');
      return value;
    case 'date':
      if (typeof value !== 'string' || !ISO_DATE.test(value) || Number.isNaN(Date.parse(value)))
        fail(at, 'must be an ISO-8601 date (2026-03-01) or timestamp');
      return value;
    case 'reference': {
      const keys = field.multiple ? value : [value];
      if (!Array.isArray(keys)) return fail(at, 'must be a list of entry keys');
      keys.forEach((key, i) => {
        const here = field.multiple ? `${at}[${i}]` : at;
        if (typeof key !== 'string' || !key) fail(here, 'must be the key of an entry');
        ctx.references.push({ path: here, key: key as string, types: field.referenceTypes ?? [] });
      });
      return value;
    }
    case 'asset':
      return checkAsset(value, at);
    case 'blocks':
      return checkBlocks(field, value, at, ctx, depth);
    case 'json':
      return value;
  }
}

function checkAsset(value: unknown, at: string): Record<string, unknown> {
  if (!isObject(value)) return fail(at, 'must be an asset: { url, mimeType, title, width?, height? }');
  let url: URL | null = null;
  try {
    url = typeof value.url === 'string' ? new URL(value.url) : null;
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    fail(`${at}.url`, 'must be an http(s) URL');
  if (typeof value.mimeType !== 'string' || !MIME_TYPE.test(value.mimeType))
    fail(`${at}.mimeType`, 'must be a media type such as image/png');
  if (typeof value.title !== 'string' || !value.title.trim()) fail(`${at}.title`, 'is required');
  for (const side of ['width', 'height'] as const) {
    const n = value[side];
    if (n !== undefined && n !== null && !(Number.isInteger(n) && (n as number) > 0))
      fail(`${at}.${side}`, 'must be a positive whole number of pixels');
  }
  for (const key of Object.keys(value))
    if (!['url', 'mimeType', 'title', 'width', 'height', 'alt'].includes(key))
      fail(`${at}.${key}`, 'is not an asset property');
  return value;
}

function checkBlocks(
  field: FieldDefinition,
  value: unknown,
  at: string,
  ctx: ValueContext,
  depth: number,
): unknown[] {
  if (!Array.isArray(value)) return fail(at, 'must be a list of blocks: [{ type, fields }]');
  if (depth >= MAX_BLOCK_DEPTH) fail(at, `blocks nest at most ${MAX_BLOCK_DEPTH} deep`);
  return value.map((block, i) => {
    const here = `${at}[${i}]`;
    if (!isObject(block)) return fail(here, 'must be a block: { type, fields }');
    const type = typeof block.type === 'string' ? ctx.blockTypes.get(block.type) : undefined;
    if (!type) return fail(`${here}.type`, `no block type "${String(block.type)}"`);
    if (field.blockTypes?.length && !field.blockTypes.includes(type.key))
      fail(`${here}.type`, `"${type.key}" is not allowed here (allowed: ${field.blockTypes.join(', ')})`);
    for (const key of Object.keys(block))
      if (key !== 'type' && key !== 'fields' && key !== 'id' && key !== 'variants')
        fail(`${here}.${key}`, 'is not a block property');
    const fields = checkValues(type.fields, block.fields ?? {}, `${here}.fields`, ctx, {
      required: true,
      depth: depth + 1,
    });
    if (block.variants === undefined) return { ...block, fields };
    return { ...block, fields, variants: checkVariants(block.variants, ctx.operators, `${here}.variants`) };
  });
}

const MARKS = new Set(['bold', 'italic', 'underline', 'strike', 'code']);
const BLOCK_NODES = new Set(['paragraph', 'heading', 'list', 'list_item', 'quote', 'code_block']);

/**
 * Rich text is a small node tree: `{ type: 'doc', children: [{ type: 'paragraph', children:
 * [{ text, marks }] }] }`, plus headings, lists, quotes, code blocks and links. Strings with
 * tags are refused: every channel renders the tree its own way, none receives raw HTML.
 */
export function checkRichText(value: unknown, at: string): void {
  if (typeof value === 'string')
    fail(at, "rich text is a JSON document ({ type: 'doc', children: [...] }), not a string or HTML");
  if (!isObject(value) || value.type !== 'doc' || !Array.isArray(value.children))
    fail(at, "must be a document: { type: 'doc', children: [...] }");
  const walk = (node: unknown, here: string, inline: boolean, depth: number): void => {
    if (depth > 12) fail(here, 'is nested too deeply');
    if (!isObject(node)) fail(here, 'must be a node object');
    if ('text' in node) {
      if (typeof node.text !== 'string') fail(`${here}.text`, 'must be a string');
      if (HTML_TAG.test(node.text as string)) fail(`${here}.text`, 'must not contain HTML tags');
      const marks = node.marks ?? [];
      if (!Array.isArray(marks) || marks.some((m) => !MARKS.has(m as string)))
        fail(`${here}.marks`, `marks are ${[...MARKS].join(', ')}`);
      return;
    }
    const type = node.type;
    if (type === 'link') {
      if (typeof node.url !== 'string' || !/^(https?:|mailto:|\/)/.test(node.url))
        fail(`${here}.url`, 'must be an http(s), mailto: or relative URL');
    } else if (inline || typeof type !== 'string' || !BLOCK_NODES.has(type)) {
      fail(`${here}.type`, `unknown node type "${String(type)}"`);
    }
    if (
      type === 'heading' &&
      !(Number.isInteger(node.level) && (node.level as number) >= 1 && (node.level as number) <= 6)
    )
      fail(`${here}.level`, 'must be 1 to 6');
    if (!Array.isArray(node.children)) fail(`${here}.children`, 'must be a list of nodes');
    const childInline =
      type === 'paragraph' || type === 'heading' || type === 'link' || type === 'code_block';
    for (const [i, child] of node.children.entries())
      walk(child, `${here}.children[${i}]`, childInline, depth + 1);
  };
  for (const [i, child] of (value as { children: unknown[] }).children.entries())
    walk(child, `${at}.children[${i}]`, false, 1);
}
