// Journey engine throughput and timer lateness, beside raw pg-boss job throughput in the same run.
// 1. Steps/s: BENCH_ENROLLMENTS (default 4,000) enrollments, due now, each running a five-step path
//    (split → condition on a trait → split → condition → update a trait), with 1 and then 2
//    `atrium worker` processes. Baseline: pg-boss working queued no-op jobs, one per step.
// 2. Timer lateness: BENCH_TIMERS (default 3,000) waits falling due over 30 s of steady load, with
//    2 workers: p50/p99 of (moment the step ran − moment it was due).
// Aim: ≥ 1,000 step executions/s on 2 cores, lateness p99 < 1 s. Needs ATRIUM_TEST_DATABASE_URL.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgBoss } from 'pg-boss';
import { sql } from '../src/db/sql.ts';
import { parseSettings } from '../src/kernel/config.ts';
import { validateDefinition } from '../src/modules/journeys/definition.ts';
import { operatorRegistry } from '../src/modules/profiles/segments/operators.ts';
import { ensureWorkspace } from '../src/modules/workspaces/service.ts';
import { createAtrium } from '../src/server.ts';
import { createTestDatabase } from '../src/testing/test-database.ts';

const ENROLLMENTS = Number(process.env.BENCH_ENROLLMENTS ?? 4000);
const TIMERS = Number(process.env.BENCH_TIMERS ?? 3000);
const TIMER_SPREAD_S = 30;
const STEPS_PER_PATH = 5;
const bin = new URL('../bin/atrium.js', import.meta.url).pathname;

const database = await createTestDatabase();
const dataDir = mkdtempSync(join(tmpdir(), 'atrium-bench-'));
const settings = parseSettings({
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  DATABASE_URL: database.url,
  ATRIUM_DATA_DIR: dataDir,
  AUTH_DEV_TOKENS: 'true',
});
// This process only sets things up; the engine runs in worker processes.
const atrium = await createAtrium({ config: { settings, plugins: [] }, role: 'api', migrateOnStart: true });
const workers: ChildProcess[] = [];

try {
  const workspace = await ensureWorkspace(atrium.orm.em.fork(), 'bench', 'bench');
  const em = atrium.orm.em.fork();
  const journeyId = crypto.randomUUID();
  const runtime = atrium.runtimeOf('journeys');
  const context = { steps: runtime.journeySteps, operators: operatorRegistry(runtime.segmentOperators) };
  const definition = validateDefinition(
    {
      trigger: { type: 'api' },
      entry: { reentry: 'always', cooldownHours: 0, maxEntries: 1_000_000 },
      goal: null,
      exit: null,
      start: 'split1',
      nodes: {
        split1: {
          type: 'split',
          args: {
            arms: [
              { name: 'a', percent: 50 },
              { name: 'b', percent: 50 },
            ],
          },
          next: { a: 'pro', b: 'pro' },
        },
        pro: {
          type: 'branch',
          args: { condition: { op: 'trait', args: { trait: 'plan', comparator: 'equals', value: 'pro' } } },
          next: { yes: 'split2', no: 'split2' },
        },
        split2: {
          type: 'split',
          args: {
            arms: [
              { name: 'a', percent: 90 },
              { name: 'b', percent: 10 },
            ],
          },
          next: { a: 'ch', b: 'ch' },
        },
        ch: {
          type: 'branch',
          args: { condition: { op: 'trait', args: { trait: 'country', comparator: 'equals', value: 'CH' } } },
          next: { yes: 'mark', no: 'mark' },
        },
        mark: { type: 'update-profile', args: { traits: { journeyed: true } } },
      },
    },
    context,
  );
  const timerDefinition = validateDefinition(
    {
      trigger: { type: 'api' },
      entry: { reentry: 'always' },
      start: 'wait',
      nodes: { wait: { type: 'wait', args: { minutes: 1 } } },
    },
    context,
  );
  const timerJourneyId = crypto.randomUUID();
  for (const [id, key, def] of [
    [journeyId, 'bench', definition],
    [timerJourneyId, 'timers', timerDefinition],
  ] as const) {
    await sql(
      em,
      `insert into journey (id, workspace_id, key, name, status, draft, published_version, created_at, updated_at)
                   values ($1, $2, $3, $3, 'published', $4::jsonb, 1, now(), now())`,
      [id, workspace.id, key, JSON.stringify(def)],
    );
    await sql(
      em,
      `insert into journey_version (id, workspace_id, journey_id, version, definition, in_flight_policy, created_at)
                   values (gen_random_uuid(), $1, $2, 1, $3::jsonb, 'keep', now())`,
      [workspace.id, id, JSON.stringify(def)],
    );
  }

  const seedEnrollments = async (journey: string, count: number, node: string, dueSql: string) => {
    await sql(
      em,
      `with p as (insert into profile (id, workspace_id, traits, computed_traits, first_seen_at, last_seen_at, created_at, updated_at)
                  select gen_random_uuid(), $1, jsonb_build_object('plan', case when i % 3 = 0 then 'pro' else 'free' end, 'country', 'CH'),
                         '{}', now(), now(), now(), now() from generate_series(1, $3) i returning id)
       insert into journey_enrollment (id, workspace_id, journey_id, version, profile_id, status, node, due_at, visits, control, context, entered_at, failures, updated_at)
       select gen_random_uuid(), $1, $2, 1, p.id, 'active', $4, d.due, 0, false,
              jsonb_build_object('dueAt', d.due), now(), 0, now() from p cross join lateral (select ${dueSql} as due) d`,
      [workspace.id, journey, count, node],
    );
  };
  const countDone = async () =>
    Number(
      (
        await sql<{ n: string }>(
          em,
          `select count(*) as n from journey_enrollment where status in ('completed', 'waiting')`,
        )
      )[0]?.n,
    );
  const startWorkers = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const child = spawn(process.execPath, [bin, 'worker'], {
        // Run from the data directory: no atrium.config.ts there, so the core's modules alone.
        cwd: dataDir,
        env: { ...process.env, DATABASE_URL: database.url, ATRIUM_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      workers.push(child);
    }
    // A worker is ready when it has registered its queues; give both a moment to boot before timing.
    await new Promise((resolve) => setTimeout(resolve, 4000));
  };
  const stopWorkers = async () => {
    for (const w of workers.splice(0)) {
      w.kill('SIGTERM');
      await new Promise((resolve) => w.once('exit', resolve));
    }
  };

  const stepsPerSecond = async (n: number): Promise<number> => {
    await sql(em, `delete from journey_enrollment`);
    await startWorkers(n);
    // Paused while seeding, so that the clock starts with all of them due.
    await sql(em, `update journey set status = 'paused' where id = $1`, [journeyId]);
    await seedEnrollments(journeyId, ENROLLMENTS, 'split1', 'now()');
    const started = performance.now();
    await sql(em, `update journey set status = 'published' where id = $1`, [journeyId]);
    while ((await countDone()) < ENROLLMENTS) await new Promise((resolve) => setTimeout(resolve, 50));
    const seconds = (performance.now() - started) / 1000;
    await stopWorkers();
    return (ENROLLMENTS * STEPS_PER_PATH) / seconds;
  };

  const one = await stepsPerSecond(1);
  const two = await stepsPerSecond(2);

  // Timers: waits falling due over 30 s while two workers run, measured from due to run.
  await sql(em, `delete from journey_enrollment`);
  await startWorkers(2);
  await seedEnrollments(
    timerJourneyId,
    TIMERS,
    'wait',
    `now() + make_interval(secs => random() * ${TIMER_SPREAD_S} + 2)`,
  );
  await sql(em, `update journey_enrollment set status = 'waiting', visits = 1 where node = 'wait'`);
  await sql(
    em,
    `insert into journey_step_run (id, workspace_id, journey_id, version, enrollment_id, node, visit, step_type, outcome, created_at)
     select gen_random_uuid(), workspace_id, journey_id, 1, id, 'wait', 1, 'wait', null, now() from journey_enrollment`,
  );
  const deadline = Date.now() + (TIMER_SPREAD_S + 30) * 1000;
  while (Date.now() < deadline) {
    const [row] = await sql<{ n: string }>(
      em,
      `select count(*) as n from journey_enrollment where status = 'completed'`,
    );
    if (Number(row?.n) === TIMERS) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const lateness = await sql<{ p50: number; p99: number; done: string }>(
    em,
    `select percentile_cont(0.5) within group (order by extract(epoch from e.ended_at - (e.context ->> 'dueAt')::timestamptz)) as p50,
            percentile_cont(0.99) within group (order by extract(epoch from e.ended_at - (e.context ->> 'dueAt')::timestamptz)) as p99,
            count(*) as done
     from journey_enrollment e where e.status = 'completed'`,
  );
  await stopWorkers();

  // Baseline: pg-boss alone working no-op jobs, one per step, queued beforehand, fetched 100 at a
  // time without pauses while batches come back full (its fastest way), in one process.
  const boss = new PgBoss({ connectionString: database.url, schema: 'bench_boss' });
  await boss.start();
  await boss.createQueue('bench');
  const jobs = ENROLLMENTS * STEPS_PER_PATH;
  let worked = 0;
  for (let i = 0; i < jobs; i += 1000) {
    await boss.insert(
      'bench',
      Array.from({ length: Math.min(1000, jobs - i) }, () => ({ data: {} })),
    );
  }
  const bossStarted = performance.now();
  await boss.work(
    'bench',
    { batchSize: 100, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
    async (batch) => {
      worked += batch.length;
    },
  );
  while (worked < jobs) await new Promise((resolve) => setTimeout(resolve, 20));
  const bossRate = jobs / ((performance.now() - bossStarted) / 1000);
  await boss.stop({ graceful: false });

  const l = lateness[0];
  console.log(`journey steps/s, 1 worker : ${one.toFixed(0)}`);
  console.log(`journey steps/s, 2 workers: ${two.toFixed(0)}`);
  console.log(`pg-boss no-op jobs/s (batches of 100, 1 process): ${bossRate.toFixed(0)}`);
  console.log(`ratio steps/s (2 workers) to pg-boss jobs/s: ${(two / bossRate).toFixed(2)}`);
  console.log(
    `timer lateness with 2 workers over ${TIMER_SPREAD_S} s, ${l?.done} timers: p50 ${((l?.p50 ?? 0) * 1000).toFixed(0)} ms, p99 ${((l?.p99 ?? 0) * 1000).toFixed(0)} ms`,
  );
  console.log(`aim: ≥ 1000 steps/s, lateness p99 < 1000 ms`);
} finally {
  for (const w of workers) w.kill('SIGKILL');
  await atrium.stop();
  await database.drop();
}
