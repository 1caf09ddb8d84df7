import { consentPurposes } from '../entities.ts';
import {
  type Comparator,
  comparatorProblem,
  comparators,
  compare,
  numberComparators,
  valueAt,
} from './comparators.ts';
import type { ArgDefs, ArgValues } from './conditions.ts';
import type { EventAggregate } from './event-aggregates.ts';

/** What a leaf sees of one profile while segments are evaluated. */
export interface ProfileFacts {
  id: string;
  traits: Record<string, unknown>;
  computedTraits: Record<string, unknown>;
  /** The current decision per consent purpose; a purpose never decided is absent. */
  consents: Readonly<Record<string, boolean>>;
  /** Membership of the segment with this key, as of this evaluation (dependencies are evaluated first). */
  isMemberOf(segmentKey: string): boolean;
}

/**
 * A segment condition operator, stored as `{ op: code, args }` in a condition tree (Vendure's
 * configurable-operation shape): `args` declares the arguments with labels for an admin UI and
 * validation; `events` names the event aggregates the leaf reads, which the evaluator computes for
 * all leaves of all segments in one SQL statement; `fn` decides from them, in memory.
 * Plugins contribute operators through `segmentOperators` in their definition.
 */
export interface SegmentOperator<D extends ArgDefs = ArgDefs> {
  /** Unique across core and plugins; a plugin prefixes its own, e.g. `loyalty.tier`. */
  code: string;
  label: string;
  description: string;
  args: D;
  /** Rules across arguments that their types cannot say; name the argument at fault. */
  check?: (args: ArgValues<D>) => { arg: keyof D & string; message: string } | null;
  /** The event aggregates `fn` receives as `events`, in this order. */
  events?: (args: ArgValues<D>) => EventAggregate[];
  fn: (args: ArgValues<D>, profile: ProfileFacts, events: readonly unknown[]) => boolean;
}

/** Declares an operator with its argument types inferred from `args`. */
export function defineSegmentOperator<const D extends ArgDefs>(
  operator: SegmentOperator<D>,
): SegmentOperator<D> {
  return operator;
}

// biome-ignore lint/suspicious/noExplicitAny: operators of every argument shape live in one registry.
export type AnySegmentOperator = SegmentOperator<any>;

const windowDays = {
  type: 'int',
  label: 'Within the last (days)',
  min: 1,
  max: 3650,
  ui: 'days',
} as const;

const comparison = {
  comparator: { type: 'enum', label: 'Comparison', options: comparators, default: 'equals' },
  value: {
    type: 'json',
    label: 'Value',
    required: false,
    description: 'Leave empty for exists and not exists',
  },
} as const;

const countComparison = {
  comparator: { type: 'enum', label: 'Comparison', options: numberComparators, default: 'gte' },
  count: { type: 'int', label: 'Count', min: 0, max: 1_000_000 },
} as const;

const valueProblem = (args: { comparator: Comparator; value?: unknown }) => {
  const message = comparatorProblem(args.comparator, args.value);
  return message ? { arg: 'value' as const, message } : null;
};

export const traitOperator = defineSegmentOperator({
  code: 'trait',
  label: 'Trait',
  description: 'Compares a trait of the profile, e.g. plan equals "pro" or age gte 18',
  args: { trait: { type: 'string', label: 'Trait', ui: 'trait-key' }, ...comparison },
  check: valueProblem,
  fn: (args, profile) => compare(valueAt(profile.traits, args.trait), args.comparator, args.value),
});

export const computedTraitOperator = defineSegmentOperator({
  code: 'computed_trait',
  label: 'Computed trait',
  description: 'Compares a computed trait, e.g. orders_90d gte 3',
  args: { trait: { type: 'computed_trait', label: 'Computed trait' }, ...comparison },
  check: valueProblem,
  fn: (args, profile) => compare(profile.computedTraits[args.trait], args.comparator, args.value),
});

export const eventCountOperator = defineSegmentOperator({
  code: 'event_count',
  label: 'Event count',
  description:
    'How often the profile did an event in a time window, e.g. Order Completed at least 3 times in 90 days',
  args: {
    event: { type: 'string', label: 'Event', ui: 'event-name' },
    ...countComparison,
    withinDays: windowDays,
  },
  events: (args) => [{ fn: 'count', event: args.event, withinDays: args.withinDays }],
  fn: (args, _profile, [count]) => compare(count, args.comparator, args.count),
});

export const eventPropertyOperator = defineSegmentOperator({
  code: 'event_property',
  label: 'Event with a property',
  description:
    'Whether the profile did an event whose property matches in a time window, e.g. Order Completed with total gt 100 in 30 days',
  args: {
    event: { type: 'string', label: 'Event', ui: 'event-name' },
    property: { type: 'string', label: 'Property', ui: 'property-path' },
    ...comparison,
    countComparator: { ...countComparison.comparator, label: 'How often' },
    count: { ...countComparison.count, default: 1 },
    withinDays: windowDays,
  },
  check: valueProblem,
  events: (args) => [
    {
      fn: 'count',
      event: args.event,
      withinDays: args.withinDays,
      where: { property: args.property, comparator: args.comparator, value: args.value },
    },
  ],
  fn: (args, _profile, [count]) => compare(count, args.countComparator, args.count),
});

export const consentOperator = defineSegmentOperator({
  code: 'consent',
  label: 'Consent',
  description: 'The profile granted or denied a purpose, or never decided',
  args: {
    purpose: { type: 'enum', label: 'Purpose', options: consentPurposes },
    state: { type: 'enum', label: 'State', options: ['granted', 'denied', 'undecided'], default: 'granted' },
  },
  fn: (args, profile) => {
    const decision = profile.consents[args.purpose];
    if (args.state === 'undecided') return decision === undefined;
    return decision === (args.state === 'granted');
  },
});

export const segmentMembershipOperator = defineSegmentOperator({
  code: 'segment',
  label: 'Member of a segment',
  description: 'The profile is a member of another segment; wrap in `not` for non-members',
  args: { segment: { type: 'segment', label: 'Segment' } },
  fn: (args, profile) => profile.isMemberOf(args.segment),
});

/** The operators core ships; the profiles module declares them like a plugin would. */
export const builtInSegmentOperators: AnySegmentOperator[] = [
  traitOperator,
  computedTraitOperator,
  eventCountOperator,
  eventPropertyOperator,
  consentOperator,
  segmentMembershipOperator,
];

const registries = new WeakMap<readonly AnySegmentOperator[], ReadonlyMap<string, AnySegmentOperator>>();

/** Operators by code; the host refuses duplicate codes at boot. */
export function operatorRegistry(
  operators: readonly AnySegmentOperator[],
): ReadonlyMap<string, AnySegmentOperator> {
  let registry = registries.get(operators);
  if (!registry) {
    registry = new Map(operators.map((op) => [op.code, op]));
    registries.set(operators, registry);
  }
  return registry;
}
