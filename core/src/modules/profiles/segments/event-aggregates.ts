import { type Comparator, compareSql, jsonPathSql, type SqlParams } from './comparators.ts';

/**
 * A number or value computed from one profile's events: what segment leaves and computed traits
 * read. Every aggregate of a profile is computed in one pass over its range of the
 * (workspace, profile, timestamp) index, whatever the number of leaves or traits.
 */
export interface EventAggregate {
  /**
   * `count` events; `sum` a numeric property; `last_at` the latest timestamp (ISO string);
   * `last_value` a property of the latest event that has it; `decayed_count` events weighted
   * 0.5^(age in days / halfLifeDays).
   */
  fn: 'count' | 'sum' | 'last_at' | 'last_value' | 'decayed_count';
  /** Only events with this name (a track event, a page or screen name); every event when absent. */
  event?: string | null;
  /** Only events of the last this many days. */
  withinDays?: number | null;
  /** The property `sum` adds up and `last_value` reads (a dotted path into `properties`). */
  property?: string | null;
  /** Only events whose property passes this comparison. */
  where?: { property: string; comparator: Comparator; value?: unknown } | null;
  halfLifeDays?: number | null;
}

const DAY_MS = 86_400_000;

/** The aggregates of one batch, deduplicated: leaves that ask the same thing share one column. */
export class AggregatePlan {
  readonly #specs: EventAggregate[] = [];
  readonly #index = new Map<string, number>();

  /** Adds an aggregate and returns its position in each profile's result. */
  add(spec: EventAggregate): number {
    const key = JSON.stringify([
      spec.fn,
      spec.event ?? null,
      spec.withinDays ?? null,
      spec.property ?? null,
      spec.where ?? null,
      spec.halfLifeDays ?? null,
    ]);
    let index = this.#index.get(key);
    if (index === undefined) {
      index = this.#specs.push(spec) - 1;
      this.#index.set(key, index);
    }
    return index;
  }

  get size(): number {
    return this.#specs.length;
  }

  /**
   * The plan as SQL over events aliased `e` of one profile: aggregate columns `a0…` and the
   * conditions that narrow the index range (when every aggregate has a window or an event name).
   */
  toSql(params: SqlParams, now: Date): { columns: string[]; narrow: string[] } {
    const sinceOf = (days: number) => params.add(new Date(now.getTime() - days * DAY_MS));
    const columns = this.#specs.map((spec, i): string => {
      const filters: string[] = [];
      if (spec.event) filters.push(`e.name = ${params.add(spec.event)}::text`);
      if (spec.withinDays) filters.push(`e.timestamp >= ${sinceOf(spec.withinDays)}::timestamptz`);
      if (spec.where) {
        const json = jsonPathSql('e.properties', spec.where.property, params);
        filters.push(compareSql(json, spec.where.comparator, spec.where.value, params));
      }
      const property = spec.property ? jsonPathSql('e.properties', spec.property, params) : 'null';
      const filter = (extra?: string) => {
        const all = extra ? [...filters, extra] : filters;
        return all.length ? ` filter (where ${all.join(' and ')})` : '';
      };
      switch (spec.fn) {
        case 'count':
          return `count(*)${filter()} as a${i}`;
        case 'sum':
          return `coalesce(sum(case when jsonb_typeof(${property}) = 'number' then (${property} #>> '{}')::numeric end)${filter()}, 0) as a${i}`;
        case 'last_at':
          return `max(e.timestamp)${filter()} as a${i}`;
        case 'last_value':
          return `(array_agg(${property} order by e.timestamp desc)${filter(`coalesce(jsonb_typeof(${property}), 'null') <> 'null'`)})[1] as a${i}`;
        case 'decayed_count': {
          // In float8: numeric power() would cost milliseconds per profile.
          const age = `greatest(0, extract(epoch from (${params.add(now)}::timestamptz - e.timestamp))::float8)`;
          const rate = params.add(-Math.LN2 / ((spec.halfLifeDays ?? 7) * 86400));
          return `coalesce(sum(exp(${rate}::float8 * ${age}))${filter()}, 0) as a${i}`;
        }
      }
      throw new Error(`unknown event aggregate ${JSON.stringify(spec)}`);
    });
    const narrow: string[] = [];
    if (this.#specs.every((s) => s.withinDays))
      narrow.push(
        `e.timestamp >= ${sinceOf(Math.max(...this.#specs.map((s) => s.withinDays as number)))}::timestamptz`,
      );
    if (this.#specs.every((s) => s.event))
      narrow.push(`e.name = any(${params.add([...new Set(this.#specs.map((s) => s.event))])}::text[])`);
    return { columns, narrow };
  }

  /** The values of a row that `toSql`'s columns produced, in plan order. */
  valuesOf(row: Record<string, unknown>): unknown[] {
    return this.#specs.map((spec, i) => resultOf(spec, row[`a${i}`]));
  }
}

function resultOf(spec: EventAggregate, raw: unknown): unknown {
  switch (spec.fn) {
    case 'count':
    case 'sum':
      return Number(raw ?? 0);
    case 'decayed_count':
      return Math.round(Number(raw ?? 0) * 1000) / 1000;
    case 'last_at':
      return raw instanceof Date ? raw.toISOString() : raw ? new Date(String(raw)).toISOString() : null;
    case 'last_value':
      return raw ?? null;
  }
}
