import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { sql } from '../../../db/sql.ts';
import { probePlugin } from '../../../testing/fixtures/probe-plugin.ts';
import { createTestEnvironment, type TestEnvironment, waitFor } from '../../../testing/index.ts';

const bin = new URL('../../../../bin/atrium.js', import.meta.url).pathname;
const probeConfig = new URL('../../../testing/fixtures/probe.config.ts', import.meta.url).pathname;
const ENROLLMENTS = 1500;

let env: TestEnvironment;
const workers: ChildProcess[] = [];

before(async () => {
  // The API runs here; the engine runs in separate `atrium worker` processes that the test kills.
  env = await createTestEnvironment({ plugins: [probePlugin({})], role: 'api' });
});
after(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await env?.destroy();
});

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, [bin, 'worker'], {
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      ATRIUM_CONFIG: probeConfig,
      ATRIUM_DATA_DIR: env.dataDir,
      LOG_LEVEL: 'warn',
      JOBS_SUPERVISE_INTERVAL_S: '1',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  workers.push(child);
  return child;
}

const count = async (text: string, params: unknown[] = []) =>
  Number((await sql<{ n: string }>(env.em(), text, params))[0]?.n);

test('a worker killed between steps: after a restart no step is doubled and none is lost', async () => {
  const demo = await env.workspace('demo');
  const editor = env.adminClient.withToken(env.token('editor'));
  const draft = {
    trigger: { type: 'api' },
    start: 'one',
    nodes: {
      one: { type: 'probe.effect', args: {}, next: { next: 'two' } },
      two: { type: 'probe.effect', args: {}, next: { next: 'three' } },
      three: { type: 'probe.effect', args: {} },
    },
  };
  const created = await editor.ok(
    `mutation ($d: JSON!) { createJourney(input: { key: "crash", name: "crash", draft: $d }) { ... on CreateJourneyPayload { journey { id } } } }`,
    { d: draft },
  );
  const journeyGid = created.createJourney.journey.id as string;
  await editor.ok(
    `mutation ($id: ID!) { publishJourney(input: { id: $id, inFlight: KEEP }) { __typename } }`,
    { id: journeyGid },
  );
  const journeyId = Buffer.from(journeyGid, 'base64').toString().split(':')[1];
  // Profiles and enrollments written directly: the test is about the engine, not the triggers.
  await sql(
    env.em(),
    `with p as (insert into profile (id, workspace_id, traits, computed_traits, first_seen_at, last_seen_at, created_at, updated_at)
                select gen_random_uuid(), $1, '{}', '{}', now(), now(), now(), now() from generate_series(1, $3) returning id)
     insert into journey_enrollment (id, workspace_id, journey_id, version, profile_id, status, node, due_at, visits, control, context, entered_at, failures, updated_at)
     select gen_random_uuid(), $1, $2, 1, p.id, 'active', 'one', now(), 0, false, '{}', now(), 0, now() from p`,
    [demo.id, journeyId, ENROLLMENTS],
  );

  const first = startWorker();
  await waitFor(
    async () => (await count(`select count(*) as n from journey_step_run`)) > 300,
    60000,
    'the engine to get going',
  );
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));

  // What committed before the kill is whole: every logged step has its effect, and no more.
  const effects = await count(`select count(*) as n from probe_effect where event_type = 'journey-step'`);
  const logged = await count(`select count(*) as n from journey_step_run`);
  assert.equal(effects, logged, 'effects and the step ledger committed together');
  assert.ok(logged < ENROLLMENTS * 3, 'the kill came before the end');

  startWorker();
  await waitFor(
    async () =>
      (await count(`select count(*) as n from journey_enrollment where status = 'completed'`)) ===
      ENROLLMENTS,
    120000,
    'every enrollment to complete after the restart',
  );
  assert.equal(
    await count(`select count(*) as n from probe_effect where event_type = 'journey-step'`),
    ENROLLMENTS * 3,
  );
  assert.equal(
    await count(
      `select count(*) as n from (select event_id from probe_effect where event_type = 'journey-step'
       group by event_id having count(*) <> 3) wrong`,
    ),
    0,
    'each enrollment ran each of its three steps exactly once',
  );
});
