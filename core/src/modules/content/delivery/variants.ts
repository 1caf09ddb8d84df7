import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { ValidationError } from '../../../kernel/errors.ts';
import type { Comparator } from '../../profiles/segments/comparators.ts';
import { type Condition, forEachLeaf, validateCondition } from '../../profiles/segments/conditions.ts';
import { matchCondition } from '../../profiles/segments/evaluate.ts';
import { type AnySegmentOperator, operatorRegistry } from '../../profiles/segments/operators.ts';
import type { ContentVariant } from '../entities.ts';

/**
 * Variants, as stored:
 * - on a version (`ContentVersion.variants`): `fields` has the version's shape, `fields[locale][key]`
 *   (`'*'` for fields that are not localized), and overrides the entry's values locale by locale;
 * - on a block item inside a `blocks` field (`{ type, id?, fields, variants? }`): `fields` is
 *   `{ key: value }` like the block's own, and overrides them.
 * The first variant in list order whose audience matches wins. An audience names a segment
 * (`segmentKey`), a segment condition (`condition`, e.g. `{ op: 'trait', args: { trait: 'plan',
 * comparator: 'equals', value: 'pro' } }`) or both, which must then both hold.
 */
export type Audience = ContentVariant['audience'];

const KEY = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$/;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks a list of variants (an entry's or a block's) and returns it normalised; errors name the
 * path, e.g. `variants[1].audience.condition.args.trait`. Conditions are checked with the segment
 * operators, so the same operators serve segments and variants.
 */
export function checkVariants(
  raw: unknown,
  operators: readonly AnySegmentOperator[],
  path = 'variants',
  segmentKeys?: ReadonlySet<string>,
): ContentVariant[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ValidationError(`${path} must be a list of variants`, path);
  const registry = operatorRegistry(operators);
  const seen = new Set<string>();
  return raw.map((variant, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(variant)) throw new ValidationError(`${at} must be { key, audience, fields }`, at);
    for (const name of Object.keys(variant))
      if (!['key', 'audience', 'fields'].includes(name))
        throw new ValidationError(`${at}.${name} is not a variant property`, `${at}.${name}`);
    const key = variant.key;
    if (typeof key !== 'string' || !KEY.test(key))
      throw new ValidationError(`${at}.key must be letters, digits, _ . - (up to 100)`, `${at}.key`);
    if (seen.has(key)) throw new ValidationError(`${at}.key: "${key}" is used twice`, `${at}.key`);
    seen.add(key);
    const audience = variant.audience;
    if (!isObject(audience))
      throw new ValidationError(`${at}.audience must be { segmentKey?, condition? }`, `${at}.audience`);
    for (const name of Object.keys(audience))
      if (name !== 'segmentKey' && name !== 'condition')
        throw new ValidationError(`${at}.audience.${name} is not allowed`, `${at}.audience.${name}`);
    const out: Audience = {};
    if (audience.segmentKey !== undefined && audience.segmentKey !== null) {
      const segmentKey = audience.segmentKey;
      if (typeof segmentKey !== 'string' || !segmentKey.trim())
        throw new ValidationError(
          `${at}.audience.segmentKey must be a segment's key`,
          `${at}.audience.segmentKey`,
        );
      if (segmentKeys && !segmentKeys.has(segmentKey))
        throw new ValidationError(
          `${at}.audience.segmentKey: no segment has the key "${segmentKey}"`,
          `${at}.audience.segmentKey`,
        );
      out.segmentKey = segmentKey;
    }
    if (audience.condition !== undefined && audience.condition !== null)
      out.condition = validateCondition(
        audience.condition,
        registry,
        { segmentKeys },
        `${at}.audience.condition`,
      ) as Record<string, unknown>;
    if (!out.segmentKey && !out.condition)
      throw new ValidationError(`${at}.audience needs a segmentKey, a condition or both`, `${at}.audience`);
    if (!isObject(variant.fields))
      throw new ValidationError(`${at}.fields must be an object of field values`, `${at}.fields`);
    return { key, audience: out, fields: variant.fields };
  });
}

const comparatorWords: Record<Comparator, string> = {
  equals: 'equals',
  not_equals: 'does not equal',
  gt: 'is greater than',
  gte: 'is at least',
  lt: 'is less than',
  lte: 'is at most',
  contains: 'contains',
  exists: 'is set',
  not_exists: 'is not set',
};

/** A condition in words: `plan equals "pro" and visits is at least 3`. */
export function describeCondition(condition: Condition): string {
  if ('all' in condition) return condition.all.map(nested).join(' and ');
  if ('any' in condition) return condition.any.map(nested).join(' or ');
  if ('not' in condition) return `not ${nested(condition.not)}`;
  const args = condition.args ?? {};
  if (condition.op === 'trait' || condition.op === 'computed_trait') {
    const comparator = (args.comparator ?? 'equals') as Comparator;
    const value =
      comparator === 'exists' || comparator === 'not_exists' ? '' : ` ${JSON.stringify(args.value)}`;
    return `${String(args.trait)} ${comparatorWords[comparator] ?? comparator}${value}`;
  }
  return `${condition.op} ${JSON.stringify(args)}`;
}
const nested = (c: Condition) =>
  'all' in c || 'any' in c ? `(${describeCondition(c)})` : describeCondition(c);

function onlyTraits(condition: Condition): boolean {
  let only = true;
  forEachLeaf(condition, (leaf) => {
    if (leaf.op !== 'trait') only = false;
  });
  return only;
}

/**
 * Decides audiences for one profile (or for nobody: then none match). Segment memberships are
 * read once; conditions are evaluated with the segment evaluator over the profile's stored facts.
 */
export class AudienceJudge {
  readonly #em: EntityManager;
  readonly #workspaceId: string;
  readonly #profileId: string | null;
  readonly #operators: readonly AnySegmentOperator[];
  #segments: Promise<Set<string>> | null = null;

  constructor(
    em: EntityManager,
    workspaceId: string,
    profileId: string | null,
    operators: readonly AnySegmentOperator[],
  ) {
    this.#em = em;
    this.#workspaceId = workspaceId;
    this.#profileId = profileId;
    this.#operators = operators;
  }

  /** Why the audience matches (`profile is in segment "vip"`), or null when it does not. */
  async reasonFor(audience: Audience): Promise<string | null> {
    const profileId = this.#profileId;
    if (!profileId) return null;
    const reasons: string[] = [];
    if (audience.segmentKey) {
      if (!(await this.#memberships()).has(audience.segmentKey)) return null;
      reasons.push(`profile is in segment "${audience.segmentKey}"`);
    }
    if (audience.condition) {
      const registry = operatorRegistry(this.#operators);
      let condition: Condition;
      try {
        condition = validateCondition(audience.condition, registry);
      } catch {
        return null; // stored before an operator went away: it matches nobody rather than failing the page
      }
      const matched = await matchCondition(this.#em, this.#workspaceId, [profileId], condition, registry);
      if (matched.length === 0) return null;
      reasons.push(`${onlyTraits(condition) ? 'traits' : 'profile'} matched ${describeCondition(condition)}`);
    }
    return reasons.join(' and ');
  }

  #memberships(): Promise<Set<string>> {
    this.#segments ??= sql<{ key: string }>(
      this.#em,
      `select s.key from segment_membership m join segment s on s.id = m.segment_id
       where m.workspace_id = $1 and m.profile_id = $2 and s.status <> 'archived'`,
      [this.#workspaceId, this.#profileId],
    ).then((rows) => new Set(rows.map((r) => r.key)));
    return this.#segments;
  }
}

/** The first variant whose audience matches, with the reason; list order decides. */
export async function chooseVariant(
  variants: readonly ContentVariant[],
  judge: AudienceJudge,
): Promise<{ variant: ContentVariant; reason: string } | null> {
  for (const variant of variants) {
    if (!isObject(variant) || !isObject(variant.audience)) continue;
    const reason = await judge.reasonFor(variant.audience);
    if (reason) return { variant, reason };
  }
  return null;
}
