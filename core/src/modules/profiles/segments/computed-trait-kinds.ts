import type { ComputedTraitKind } from '../entities.ts';
import type { ArgDefs } from './conditions.ts';
import type { EventAggregate } from './event-aggregates.ts';

const event = { type: 'string', label: 'Event', ui: 'event-name' } as const;
const property = { type: 'string', label: 'Property', ui: 'property-path' } as const;
const windowDays = {
  type: 'int',
  label: 'Within the last (days)',
  min: 1,
  max: 3650,
  required: false,
  description: 'Leave empty for all time',
} as const;

interface KindSpec {
  label: string;
  args: ArgDefs;
  aggregate(config: Record<string, unknown>): EventAggregate;
}

/**
 * What each kind computes from the profile's events, and the config it takes. The engagement
 * score is a decayed count: every event of the last `windowDays` (30) counts 0.5^(age in days /
 * `halfLifeDays`) (7), so an event today counts 1, a week-old one 0.5, a month-old one about 0.05;
 * rounded to three decimals. It is refreshed whenever the profile is (new events, trait or
 * consent changes, merges) and by recomputes, not by the clock alone.
 */
export const computedTraitKindSpecs: Record<ComputedTraitKind, KindSpec> = {
  last_event: {
    label: 'Last event: when it happened, or one of its properties',
    args: { event, property: { ...property, required: false }, windowDays },
    aggregate: (c) =>
      c.property
        ? {
            fn: 'last_value',
            event: c.event as string,
            property: c.property as string,
            withinDays: num(c.windowDays),
          }
        : { fn: 'last_at', event: c.event as string, withinDays: num(c.windowDays) },
  },
  event_count: {
    label: 'Number of events, e.g. orders in 90 days',
    args: { event, windowDays },
    aggregate: (c) => ({ fn: 'count', event: c.event as string, withinDays: num(c.windowDays) }),
  },
  property_sum: {
    label: 'Sum of a numeric property, e.g. lifetime value',
    args: { event, property, windowDays },
    aggregate: (c) => ({
      fn: 'sum',
      event: c.event as string,
      property: c.property as string,
      withinDays: num(c.windowDays),
    }),
  },
  engagement_score: {
    label: 'Engagement score: events weighted by age, halving every halfLifeDays',
    args: {
      event: { ...event, required: false, description: 'Leave empty to count every event' },
      windowDays: { ...windowDays, required: true, default: 30 },
      halfLifeDays: { type: 'float', label: 'Half-life (days)', min: 0.1, max: 365, default: 7 },
    },
    aggregate: (c) => ({
      fn: 'decayed_count',
      event: (c.event as string | undefined) ?? null,
      withinDays: num(c.windowDays),
      halfLifeDays: num(c.halfLifeDays),
    }),
  },
};

const num = (value: unknown) => (typeof value === 'number' ? value : null);
