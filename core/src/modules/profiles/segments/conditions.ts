import { ValidationError } from '../../../kernel/errors.ts';

/**
 * A segment's condition as stored: a tree of `all` / `any` / `not` over leaves that name an
 * operator by `code` and carry its `args`, e.g.
 * `{ all: [{ op: 'trait', args: { trait: 'plan', comparator: 'equals', value: 'pro' } }, …] }`.
 */
export type Condition = { all: Condition[] } | { any: Condition[] } | { not: Condition } | ConditionLeaf;
export interface ConditionLeaf {
  op: string;
  args: Record<string, unknown>;
}

/**
 * The kinds of values an operator argument takes. `segment` and `computed_trait` hold the key of
 * a segment or computed trait of the workspace; validation checks that it exists.
 */
export const argTypes = [
  'string',
  'int',
  'float',
  'boolean',
  'json',
  'enum',
  'segment',
  'computed_trait',
] as const;
export type ArgType = (typeof argTypes)[number];

/** One argument of an operator: its type and what an admin UI needs to draw a form field. */
export interface ArgDef {
  type: ArgType;
  label: string;
  description?: string;
  /** Required unless `false`; an optional argument may be left out or null. */
  required?: boolean;
  /** Used when the argument is left out. */
  default?: unknown;
  /** The allowed values of an `enum`. */
  options?: readonly string[];
  /** Bounds of an `int` or `float`. */
  min?: number;
  max?: number;
  /** A hint for the UI, e.g. `event-name`, `trait-key`, `property-path`. */
  ui?: string;
}
export type ArgDefs = Record<string, ArgDef>;

type ValueOf<D extends ArgDef> = D['type'] extends 'int' | 'float'
  ? number
  : D['type'] extends 'boolean'
    ? boolean
    : D['type'] extends 'json'
      ? unknown
      : D['type'] extends 'enum'
        ? D['options'] extends readonly (infer O)[]
          ? O
          : string
        : string;

/** The validated arguments an operator's functions receive, typed from its `args`. */
export type ArgValues<D extends ArgDefs> = {
  [K in keyof D]: D[K] extends { required: false }
    ? D[K] extends { default: unknown }
      ? ValueOf<D[K]>
      : ValueOf<D[K]> | undefined
    : ValueOf<D[K]>;
};

/** What validation needs to know about the workspace; a missing set skips that existence check. */
export interface ReferenceCheck {
  segmentKeys?: ReadonlySet<string>;
  computedTraitKeys?: ReadonlySet<string>;
}

const MAX_STRING = 500;

/**
 * Checks `raw` against `defs` and returns the arguments with defaults applied. Errors name the
 * argument's full path, e.g. `condition.all[2].args.withinDays`.
 */
export function validateArgs(
  defs: ArgDefs,
  raw: unknown,
  path: string,
  refs: ReferenceCheck = {},
): Record<string, unknown> {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ValidationError(`${path} must be an object`, path);
  const given = raw as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!(name in defs)) {
      const known = Object.keys(defs).join(', ') || 'none';
      throw new ValidationError(
        `${path}.${name} is not an argument here (arguments: ${known})`,
        `${path}.${name}`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(defs)) {
    const at = `${path}.${name}`;
    let value = given[name];
    if (value === undefined || value === null) {
      if (def.default !== undefined) value = def.default;
      else if (def.required === false) continue;
      else throw new ValidationError(`${at} is required (${def.label})`, at);
    }
    out[name] = checkValue(def, value, at, refs);
  }
  return out;
}

function checkValue(def: ArgDef, value: unknown, at: string, refs: ReferenceCheck): unknown {
  const fail = (what: string): never => {
    throw new ValidationError(`${at} must be ${what}`, at);
  };
  const bounds = () =>
    def.min !== undefined && def.max !== undefined
      ? ` between ${def.min} and ${def.max}`
      : def.min !== undefined
        ? ` of at least ${def.min}`
        : def.max !== undefined
          ? ` of at most ${def.max}`
          : '';
  switch (def.type) {
    case 'int':
    case 'float': {
      const ok =
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (def.type === 'float' || Number.isInteger(value)) &&
        (def.min === undefined || value >= def.min) &&
        (def.max === undefined || value <= def.max);
      if (!ok) fail(`${def.type === 'int' ? 'an integer' : 'a number'}${bounds()}`);
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') fail('true or false');
      return value;
    case 'json':
      if (JSON.stringify(value).length > MAX_STRING * 4) fail('smaller');
      return value;
    case 'enum':
      if (typeof value !== 'string' || !def.options?.includes(value))
        fail(`one of ${def.options?.join(', ')}`);
      return value;
    case 'string':
    case 'segment':
    case 'computed_trait': {
      if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_STRING)
        fail(`a non-empty string of at most ${MAX_STRING} characters`);
      const key = value as string;
      if (def.type === 'segment' && refs.segmentKeys && !refs.segmentKeys.has(key))
        throw new ValidationError(
          `${at}: no segment has the key "${key}" (archived segments do not count)`,
          at,
        );
      if (def.type === 'computed_trait' && refs.computedTraitKeys && !refs.computedTraitKeys.has(key))
        throw new ValidationError(`${at}: no computed trait has the key "${key}"`, at);
      return key;
    }
  }
}

/** How the tree is checked: which operators exist and what they say about their arguments. */
export interface OperatorShape {
  args: ArgDefs;
  check?: (args: never) => { arg: string; message: string } | null;
}

const MAX_DEPTH = 8;
const MAX_LEAVES = 100;

/**
 * Validates a condition tree and returns it normalised (defaults applied). Every error names the
 * path of what is wrong, e.g. `condition.all[2].args.withinDays`, so a UI can point at the field.
 */
export function validateCondition(
  raw: unknown,
  operators: ReadonlyMap<string, OperatorShape>,
  refs: ReferenceCheck = {},
  path = 'condition',
): Condition {
  let leaves = 0;
  const walk = (node: unknown, at: string, depth: number): Condition => {
    if (typeof node !== 'object' || node === null || Array.isArray(node))
      throw new ValidationError(`${at} must be an object with all, any, not or op`, at);
    if (depth > MAX_DEPTH) throw new ValidationError(`${at}: conditions nest at most ${MAX_DEPTH} deep`, at);
    const keys = Object.keys(node);
    const record = node as Record<string, unknown>;
    const group = keys.find((k) => k === 'all' || k === 'any');
    if (group) {
      if (keys.length !== 1) throw new ValidationError(`${at} must have only "${group}"`, at);
      const list = record[group];
      if (!Array.isArray(list) || list.length === 0)
        throw new ValidationError(`${at}.${group} must list at least one condition`, `${at}.${group}`);
      const children = list.map((child, i) => walk(child, `${at}.${group}[${i}]`, depth + 1));
      return group === 'all' ? { all: children } : { any: children };
    }
    if (keys.includes('not')) {
      if (keys.length !== 1) throw new ValidationError(`${at} must have only "not"`, at);
      return { not: walk(record.not, `${at}.not`, depth + 1) };
    }
    if (keys.includes('op')) {
      const extra = keys.find((k) => k !== 'op' && k !== 'args');
      if (extra)
        throw new ValidationError(`${at}.${extra} is not allowed beside op and args`, `${at}.${extra}`);
      if (++leaves > MAX_LEAVES)
        throw new ValidationError(`${at}: a condition has at most ${MAX_LEAVES} leaves`, at);
      const code = record.op;
      const operator = typeof code === 'string' ? operators.get(code) : undefined;
      if (!operator) {
        const known = [...operators.keys()].join(', ');
        throw new ValidationError(
          `${at}.op: unknown operator ${JSON.stringify(code)} (known: ${known})`,
          `${at}.op`,
        );
      }
      const args = validateArgs(operator.args, record.args, `${at}.args`, refs);
      const problem = operator.check?.(args as never);
      if (problem) {
        const field = `${at}.args.${problem.arg}`;
        throw new ValidationError(`${field}: ${problem.message}`, field);
      }
      return { op: code as string, args };
    }
    throw new ValidationError(`${at} must have one of all, any, not or op`, at);
  };
  return walk(raw, path, 1);
}

/** Calls `visit` for every leaf with its path. */
export function forEachLeaf(
  condition: Condition,
  visit: (leaf: ConditionLeaf, path: string) => void,
  path = 'condition',
): void {
  if ('all' in condition)
    for (const [i, c] of condition.all.entries()) forEachLeaf(c, visit, `${path}.all[${i}]`);
  else if ('any' in condition)
    for (const [i, c] of condition.any.entries()) forEachLeaf(c, visit, `${path}.any[${i}]`);
  else if ('not' in condition) forEachLeaf(condition.not, visit, `${path}.not`);
  else visit(condition, path);
}

/** The keys this condition references through arguments of `type`, with the path of each. */
export function referencesOf(
  condition: Condition,
  operators: ReadonlyMap<string, OperatorShape>,
  type: 'segment' | 'computed_trait',
): { key: string; path: string }[] {
  const found: { key: string; path: string }[] = [];
  forEachLeaf(condition, (leaf, path) => {
    const defs = operators.get(leaf.op)?.args ?? {};
    for (const [name, def] of Object.entries(defs)) {
      const value = leaf.args?.[name];
      if (def.type === type && typeof value === 'string')
        found.push({ key: value, path: `${path}.args.${name}` });
    }
  });
  return found;
}

/**
 * The first cycle that `key` with `condition` would close through segment references, as the
 * chain of keys (`a → b → a`) and the path of the reference in `condition` that starts it.
 */
export function findCycle(
  key: string,
  references: { key: string; path: string }[],
  dependenciesOf: (key: string) => readonly string[],
): { chain: string[]; path: string } | null {
  for (const ref of references) {
    const chain = pathTo(ref.key, key, dependenciesOf, new Set());
    if (chain) return { chain: [key, ...chain], path: ref.path };
  }
  return null;
}

function pathTo(
  from: string,
  target: string,
  dependenciesOf: (key: string) => readonly string[],
  seen: Set<string>,
): string[] | null {
  if (from === target) return [from];
  if (seen.has(from)) return null;
  seen.add(from);
  for (const next of dependenciesOf(from)) {
    const rest = pathTo(next, target, dependenciesOf, seen);
    if (rest) return [from, ...rest];
  }
  return null;
}
