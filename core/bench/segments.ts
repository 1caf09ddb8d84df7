// Latency of the real-time segment update of one profile in a workspace with 50 live segments:
// what the `profile.events-ingested` handler does in its transaction (lock the profile, recompute
// its computed traits, evaluate every segment, write memberships and outbox events, commit).
// Each evaluation follows a new event of the profile; the profile's plan flips now and then, so
// some evaluations enter or exit segments. Prints p50, p99 and mean in ms.
//
// Run alone: `node core/bench/segments.ts` on the PostgreSQL at ATRIUM_TEST_DATABASE_URL (as
// `deploy/local/test.sh` starts it). Knobs: BENCH_ITERATIONS (500), BENCH_SEGMENTS (50),
// BENCH_PROFILES (2000 background profiles with 25 events each). `benchSegmentUpdate(orm)` is
// the same measurement for a caller that already runs Atrium (e.g. bench/ingest.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MikroORM } from '@mikro-orm/postgresql';
import { sql } from '../src/db/sql.ts';
import { parseSettings } from '../src/kernel/config.ts';
import { type OperatorShape, validateCondition } from '../src/modules/profiles/segments/conditions.ts';
import { refreshProfiles } from '../src/modules/profiles/segments/evaluate.ts';
import { builtInSegmentOperators, operatorRegistry } from '../src/modules/profiles/segments/operators.ts';
import { ensureWorkspace } from '../src/modules/workspaces/service.ts';
import { createAtrium } from '../src/server.ts';
import { createTestDatabase } from '../src/testing/test-database.ts';

export interface SegmentBenchOptions {
  iterations?: number;
  segments?: number;
  backgroundProfiles?: number;
  eventsPerProfile?: number;
}

export interface SegmentBenchFigures {
  iterations: number;
  segments: number;
  /** Events of the measured profile at the end of the run. */
  profileEvents: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Memberships entered plus exited over the run. */
  changes: number;
  /** An empty transaction (begin, select 1, commit) measured in the same run: the machine's floor. */
  baselineP50Ms: number;
  baselineP99Ms: number;
}

const EVENTS = ['Order Completed', 'Product Viewed', 'Page Viewed', 'Checkout Started', 'Signed In'];

/** 50 segments of every built-in kind, some nested, some depending on others. */
function segmentConditions(count: number): { key: string; condition: unknown }[] {
  const leaves: unknown[] = [
    { op: 'trait', args: { trait: 'plan', comparator: 'equals', value: 'pro' } },
    { op: 'trait', args: { trait: 'age', comparator: 'gte', value: 30 } },
    { op: 'trait', args: { trait: 'city', comparator: 'contains', value: 'zur' } },
    { op: 'trait', args: { trait: 'email', comparator: 'exists' } },
    { op: 'computed_trait', args: { trait: 'orders_90d', comparator: 'gte', value: 3 } },
    { op: 'computed_trait', args: { trait: 'ltv', comparator: 'gt', value: 500 } },
    { op: 'computed_trait', args: { trait: 'engagement', comparator: 'gte', value: 2 } },
    { op: 'consent', args: { purpose: 'marketing_email', state: 'granted' } },
    { op: 'consent', args: { purpose: 'marketing_sms', state: 'undecided' } },
  ];
  const segments: { key: string; condition: unknown }[] = [];
  for (let i = 0; segments.length < count; i++) {
    const event = EVENTS[i % EVENTS.length] as string;
    const days = [7, 30, 90][i % 3] as number;
    const leaf = leaves[i % leaves.length];
    const counted = { op: 'event_count', args: { event, count: 1 + (i % 4), withinDays: days } };
    const property = {
      op: 'event_property',
      args: {
        event: 'Order Completed',
        property: 'total',
        comparator: 'gt',
        value: 20 * (i % 10),
        withinDays: days,
      },
    };
    const kinds = [
      leaf,
      counted,
      property,
      { all: [leaf, counted] },
      { any: [property, { not: leaf }] },
      i > 10 ? { all: [{ op: 'segment', args: { segment: `s${i - 10}` } }, counted] } : counted,
    ];
    segments.push({ key: `s${i}`, condition: kinds[i % kinds.length] });
  }
  return segments;
}

export async function benchSegmentUpdate(
  orm: MikroORM,
  options: SegmentBenchOptions = {},
): Promise<SegmentBenchFigures> {
  const iterations = options.iterations ?? 500;
  const segmentCount = options.segments ?? 50;
  const background = options.backgroundProfiles ?? 2000;
  const perProfile = options.eventsPerProfile ?? 25;
  const operators = operatorRegistry(builtInSegmentOperators);
  const workspace = await ensureWorkspace(
    orm.em.fork(),
    `bench-segments-${Date.now().toString(36)}`,
    'Segments bench',
  );
  const ws = workspace.id;
  const em = orm.em.fork();

  await sql(
    em,
    `insert into profile (id, workspace_id, traits, computed_traits, first_seen_at, last_seen_at, created_at, updated_at)
     select gen_random_uuid(), $1, jsonb_build_object('plan', case when i % 3 = 0 then 'pro' else 'free' end, 'age', i % 80),
       '{}', now(), now(), now(), now() from generate_series(1, $2::int) as i`,
    [ws, background + 1],
  );
  const [target] = await sql<{ id: string }>(
    em,
    `select id::text as id from profile where workspace_id = $1 limit 1`,
    [ws],
  );
  const profileId = (target as { id: string }).id;
  await sql(
    em,
    `insert into event (id, workspace_id, profile_id, message_id, type, name, properties, traits, context, channel, timestamp, received_at)
     select gen_random_uuid(), $1, p.id, gen_random_uuid()::text, 'track', ($3::text[])[1 + (random() * 4)::int],
       jsonb_build_object('total', (random() * 200)::int), '{}', '{}', 'server', now() - random() * interval '120 days', now()
     from profile p, generate_series(1, $2::int) where p.workspace_id = $1`,
    [ws, perProfile, EVENTS],
  );
  await sql(
    em,
    `update profile set traits = traits || '{"email": "bench@example.com", "city": "Zurich", "age": 41}' where id = $1`,
    [profileId],
  );
  await sql(
    em,
    `insert into consent (id, workspace_id, profile_id, purpose, granted, source, policy_version, decided_at)
     values (gen_random_uuid(), $1, $2, 'marketing_email', true, 'bench', 'v1', now())`,
    [ws, profileId],
  );
  for (const [key, kind, config] of [
    ['orders_90d', 'event_count', { event: 'Order Completed', windowDays: 90 }],
    ['ltv', 'property_sum', { event: 'Order Completed', property: 'total' }],
    ['last_order_at', 'last_event', { event: 'Order Completed' }],
    ['engagement', 'engagement_score', { windowDays: 30, halfLifeDays: 7 }],
  ] as const) {
    await sql(
      em,
      `insert into computed_trait_definition (id, workspace_id, key, kind, config, created_at, updated_at)
       values (gen_random_uuid(), $1, $2, $3, $4::jsonb, now(), now())`,
      [ws, key, kind, JSON.stringify(config)],
    );
  }
  for (const { key, condition } of segmentConditions(segmentCount)) {
    const valid = validateCondition(condition, operators as ReadonlyMap<string, OperatorShape>);
    await sql(
      em,
      `insert into segment (id, workspace_id, key, name, condition, status, computed_profiles, total_profiles, created_at, updated_at)
       values (gen_random_uuid(), $1, $2, $2, $3::jsonb, 'active', 0, 0, now(), now())`,
      [ws, key, JSON.stringify(valid)],
    );
  }
  await sql(em, 'analyze profile, event, segment, segment_membership, consent');

  const addEvent = (i: number) =>
    sql(
      orm.em.fork(),
      `insert into event (id, workspace_id, profile_id, message_id, type, name, properties, traits, context, channel, timestamp, received_at)
       values (gen_random_uuid(), $1, $2, gen_random_uuid()::text, 'track', $3, $4::jsonb, '{}', '{}', 'server', now(), now())`,
      [ws, profileId, EVENTS[i % EVENTS.length], JSON.stringify({ total: (i * 37) % 200 })],
    );
  const flipPlan = (i: number) =>
    sql(
      orm.em.fork(),
      `update profile set traits = traits || jsonb_build_object('plan', $2::text) where id = $1`,
      [profileId, i % 2 ? 'pro' : 'free'],
    );
  const update = () =>
    orm.em.fork().transactional((tem) => refreshProfiles(tem, ws, [profileId], { operators }));

  for (let i = 0; i < 50; i++) {
    await addEvent(i);
    await update();
  }
  const times: number[] = [];
  const baseline: number[] = [];
  let changes = 0;
  for (let i = 0; i < iterations; i++) {
    await addEvent(i);
    if (i % 10 === 0) await flipPlan(i / 10);
    let started = performance.now();
    const outcome = await update();
    times.push(performance.now() - started);
    changes += outcome.entered.length + outcome.exited.length;
    started = performance.now();
    await orm.em.fork().transactional((tem) => sql(tem, 'select 1'));
    baseline.push(performance.now() - started);
  }
  const quantile = (values: number[], q: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  };
  const at = (q: number) => quantile(times, q);
  const [events] = await sql<{ n: string }>(em, 'select count(*) as n from event where profile_id = $1', [
    profileId,
  ]);
  return {
    iterations,
    segments: segmentCount,
    profileEvents: Number(events?.n ?? 0),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    changes,
    baselineP50Ms: quantile(baseline, 0.5),
    baselineP99Ms: quantile(baseline, 0.99),
  };
}

/** One line for a report, e.g. from bench/ingest.ts. */
export function formatSegmentFigures(f: SegmentBenchFigures): string {
  return (
    `real-time segment update, 1 profile (${f.profileEvents} events) in ${f.segments} segments, ${f.iterations} runs: ` +
    `p50 ${f.p50Ms.toFixed(2)} ms, p99 ${f.p99Ms.toFixed(2)} ms, mean ${f.meanMs.toFixed(2)} ms ` +
    `(${f.changes} memberships changed; aim p99 < 20 ms)\n` +
    `baseline, an empty transaction in the same run: p50 ${f.baselineP50Ms.toFixed(2)} ms, p99 ${f.baselineP99Ms.toFixed(2)} ms`
  );
}

/** The whole measurement on its own database; `bench/ingest.ts` runs it after ingestion too. */
export async function runSegmentBench(): Promise<void> {
  if (!process.env.ATRIUM_TEST_DATABASE_URL) {
    console.error('ATRIUM_TEST_DATABASE_URL is not set: start PostgreSQL with deploy/local/test.sh');
    process.exit(2);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-bench-'));
  const database = await createTestDatabase('atrium_bench');
  const settings = parseSettings({
    LOG_LEVEL: 'silent',
    DATABASE_URL: database.url,
    ATRIUM_DATA_DIR: dataDir,
  });
  // `api`: no outbox workers, so nothing else evaluates the profile during the measurement.
  const atrium = await createAtrium({ config: { settings, plugins: [] }, role: 'api', migrateOnStart: true });
  try {
    const figures = await benchSegmentUpdate(atrium.orm, {
      iterations: Number(process.env.BENCH_ITERATIONS ?? 500),
      segments: Number(process.env.BENCH_SEGMENTS ?? 50),
      backgroundProfiles: Number(process.env.BENCH_PROFILES ?? 2000),
    });
    console.log(`\nNode ${process.version}, PostgreSQL at ATRIUM_TEST_DATABASE_URL`);
    console.log(formatSegmentFigures(figures));
    if (figures.p99Ms >= 20) process.exitCode = 1;
  } finally {
    await atrium.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await runSegmentBench();
