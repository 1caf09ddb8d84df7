/**
 * How a value is compared, the same in memory (traits) and in SQL (event properties):
 * - `equals` / `not_equals`: JSON equality; a missing value is not equal to anything;
 * - `gt` … `lte`: numbers with numbers, strings with strings (code-point order, so ISO dates
 *   compare as dates); other pairs never match;
 * - `contains`: a case-insensitive substring of a string, or an element of an array;
 * - `exists` / `not_exists`: present and not null. Only these two take no value.
 */
export const comparators = [
  'equals',
  'not_equals',
  'gt',
  'gte',
  'lt',
  'lte',
  'contains',
  'exists',
  'not_exists',
] as const;
export type Comparator = (typeof comparators)[number];

/** For counts and sums: numbers only. */
export const numberComparators = ['equals', 'not_equals', 'gt', 'gte', 'lt', 'lte'] as const;
export type NumberComparator = (typeof numberComparators)[number];

/** Why a comparator and a value do not fit together, or null when they do. */
export function comparatorProblem(comparator: Comparator, value: unknown): string | null {
  const present = value !== undefined && value !== null;
  if (comparator === 'exists' || comparator === 'not_exists')
    return present ? `${comparator} takes no value` : null;
  if (!present) return `${comparator} needs a value`;
  if (
    ['gt', 'gte', 'lt', 'lte'].includes(comparator) &&
    typeof value !== 'number' &&
    typeof value !== 'string'
  )
    return `${comparator} compares numbers or strings`;
  if (comparator === 'contains' && typeof value === 'object')
    return 'contains looks for a string, number or boolean';
  return null;
}

export function compare(actual: unknown, comparator: Comparator, expected: unknown): boolean {
  const present = actual !== undefined && actual !== null;
  switch (comparator) {
    case 'exists':
      return present;
    case 'not_exists':
      return !present;
    case 'equals':
      return present && jsonEqual(actual, expected);
    case 'not_equals':
      return !present || !jsonEqual(actual, expected);
    case 'contains':
      if (typeof actual === 'string' && typeof expected === 'string')
        return actual.toLowerCase().includes(expected.toLowerCase());
      return Array.isArray(actual) && actual.some((item) => jsonEqual(item, expected));
    default: {
      const comparable =
        (typeof actual === 'number' && typeof expected === 'number') ||
        (typeof actual === 'string' && typeof expected === 'string');
      if (!comparable) return false;
      const a = actual as number | string;
      const b = expected as number | string;
      if (comparator === 'gt') return a > b;
      if (comparator === 'gte') return a >= b;
      if (comparator === 'lt') return a < b;
      return a <= b;
    }
  }
}

/** JSON equality: key order does not matter, numbers compare by value. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  return (
    ak.length === bk.length &&
    ak.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

/** A dotted path into a JSON object; a key that itself contains dots wins over the path. */
export function valueAt(object: Record<string, unknown>, path: string): unknown {
  if (path in object) return object[path];
  let current: unknown = object;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Collects `$n` parameters for one SQL statement. */
export class SqlParams {
  readonly values: unknown[] = [];
  constructor(initial: unknown[] = []) {
    this.values.push(...initial);
  }
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** The SQL for a JSON property of `column` at a dotted path, as `valueAt` reads it. */
export function jsonPathSql(column: string, path: string, params: SqlParams): string {
  const parts = path.split('.');
  if (parts.length === 1) return `${column} -> ${params.add(path)}::text`;
  return `coalesce(${column} -> ${params.add(path)}::text, ${column} #> ${params.add(parts)}::text[])`;
}

/** `compare` in SQL over a jsonb expression `json`; keep the two in step. */
export function compareSql(
  json: string,
  comparator: Comparator,
  expected: unknown,
  params: SqlParams,
): string {
  const type = `coalesce(jsonb_typeof(${json}), 'null')`;
  switch (comparator) {
    case 'exists':
      return `${type} <> 'null'`;
    case 'not_exists':
      return `${type} = 'null'`;
    case 'equals':
      return `(${type} <> 'null' and ${json} = ${params.add(JSON.stringify(expected))}::jsonb)`;
    case 'not_equals':
      return `(${type} = 'null' or ${json} <> ${params.add(JSON.stringify(expected))}::jsonb)`;
    case 'contains': {
      const inArray = `${json} @> jsonb_build_array(${params.add(JSON.stringify(expected))}::jsonb)`;
      if (typeof expected !== 'string') return `(${type} = 'array' and ${inArray})`;
      const inString = `strpos(lower(${json} #>> '{}'), lower(${params.add(expected)}::text)) > 0`;
      return `(case ${type} when 'string' then ${inString} when 'array' then ${inArray} else false end)`;
    }
    default: {
      const op = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[comparator];
      if (typeof expected === 'number')
        // CASE, not AND: PostgreSQL does not promise to skip the cast for non-numbers.
        return `(case when ${type} = 'number' then (${json} #>> '{}')::numeric ${op} ${params.add(expected)}::numeric else false end)`;
      if (typeof expected === 'string')
        return `(${type} = 'string' and (${json} #>> '{}') collate "C" ${op} ${params.add(expected)}::text collate "C")`;
      return 'false';
    }
  }
}
