import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { WORKSPACE_FILTER } from '../../db/orm.ts';
import { sql } from '../../db/sql.ts';
import { definePlugin } from '../../kernel/plugin.ts';
import { ProbeEffect, probePlugin } from '../../testing/fixtures/probe-plugin.ts';
import {
  createTestEnvironment,
  type GraphQLClient,
  type TestEnvironment,
  waitFor,
} from '../../testing/index.ts';
import { defineChannel } from '../conversations/channels.ts';
import { createInbox } from '../conversations/service/inboxes.ts';
import { operatorRegistry } from '../profiles/segments/operators.ts';
import { addEvents, seedProfile, setConsent } from '../profiles/segments/test-fixtures.ts';
import type { WorkspaceEntity } from '../workspaces/entities.ts';
import { validateDefinition } from './definition.ts';
import { runDueEnrollments } from './engine/runner.ts';
import { scanScheduledTriggers } from './engine/scheduled.ts';
import { defineStep } from './steps/step.ts';

/** Sends that reached the test channel: a stand-in provider that only records, named as such. */
const sent: { to: string | null; text: string | null; key: string; parts: unknown[] }[] = [];
const recordingChannel = definePlugin(() => ({
  name: 'journey-test-channel',
  compatibility: '^1.0.0',
  channels: [
    defineChannel({
      code: 'test-sms',
      label: 'Test SMS (records sends; a stand-in for a provider)',
      args: {},
      capabilities: { richText: false, attachments: false, templates: true, typing: false },
      addressType: 'phone',
      marketingConsent: 'marketing_sms',
      fn: async (message) => {
        sent.push({ to: message.to, text: message.text, key: message.idempotencyKey, parts: message.parts });
        return { providerMessageId: `test-${message.id}` };
      },
    }),
  ],
}));

let env: TestEnvironment;
let demo: WorkspaceEntity;
let editor: GraphQLClient;
let inboxId: string;
const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');

before(async () => {
  env = await createTestEnvironment({
    plugins: [recordingChannel(), probePlugin({})],
    // The webhook step's receiver runs on loopback in this test.
    settings: { EGRESS_ALLOW_PRIVATE_NETWORKS: 'true' },
  });
  demo = await env.workspace('demo');
  editor = env.adminClient.withToken(env.token('editor'));
  inboxId = (
    await env.atrium.orm.em.fork().transactional((em) =>
      createInbox(em, demo.id, env.atrium.runtimeOf('conversations').channels, {
        channel: 'test-sms',
        name: 'SMS',
      }),
    )
  ).inbox.id;
});
after(() => env?.destroy());

const CREATE = `mutation ($key: String!, $draft: JSON!) {
  createJourney(input: { key: $key, name: $key, draft: $draft }) {
    __typename ... on CreateJourneyPayload { journey { id } } ... on ValidationError { field message }
  }
}`;

async function publish(key: string, draft: Record<string, unknown>, inFlight = 'KEEP'): Promise<string> {
  const created = (await editor.ok(CREATE, { key, draft })).createJourney;
  assert.equal(created.__typename, 'CreateJourneyPayload', JSON.stringify(created));
  await publishDraft(created.journey.id, inFlight);
  return created.journey.id;
}

async function publishDraft(id: string, inFlight = 'KEEP') {
  const result = (
    await editor.ok(
      `mutation ($id: ID!, $inFlight: InFlightPolicy!) { publishJourney(input: { id: $id, inFlight: $inFlight }) {
        __typename ... on PublishJourneyPayload { version { version } exitedEnrollments } ... on ValidationError { field message } } }`,
      { id, inFlight },
    )
  ).publishJourney;
  assert.equal(result.__typename, 'PublishJourneyPayload', JSON.stringify(result));
  return result;
}

const localId = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1] as string;

async function enrollments(journeyId: string) {
  return sql<{
    id: string;
    profile_id: string;
    status: string;
    node: string | null;
    end_reason: string | null;
    version: number;
    control: boolean;
  }>(
    env.em(),
    `select id, profile_id, status, node, end_reason, version, control from journey_enrollment where journey_id = $1 order by entered_at`,
    [localId(journeyId)],
  );
}

async function ledger(enrollmentId: string) {
  return sql<{ node: string; visit: number; outcome: string | null; note: string | null }>(
    env.em(),
    `select node, visit, outcome, note from journey_step_run where enrollment_id = $1 order by visit`,
    [enrollmentId],
  );
}

/** Makes every wait of the journey due now, as if its time had passed. */
async function timePasses(journeyId: string) {
  await sql(
    env.em(),
    `update journey_enrollment set due_at = now() where journey_id = $1 and status = 'waiting'`,
    [localId(journeyId)],
  );
}

async function until(
  journeyId: string,
  check: (rows: Awaited<ReturnType<typeof enrollments>>) => boolean,
  what: string,
) {
  await waitFor(async () => check(await enrollments(journeyId)), 20000, what);
  return enrollments(journeyId);
}

describe('definitions', () => {
  test('errors point at the node and field at fault', async () => {
    const draft = {
      trigger: { type: 'api' },
      start: 'a',
      nodes: {
        a: { type: 'wait', args: { hours: 'soon' }, next: { next: 'b' } },
        b: { type: 'update-profile', args: { traits: {} } },
      },
    };
    const created = (await editor.ok(CREATE, { key: 'broken', draft })).createJourney;
    const result = (
      await editor.ok(
        `mutation ($id: ID!) { validateJourneyDraft(input: { id: $id }) { __typename ... on ValidationError { field message } } }`,
        { id: created.journey.id },
      )
    ).validateJourneyDraft;
    assert.equal(result.__typename, 'ValidationError');
    assert.equal(result.field, 'nodes.a.args.hours');
  });

  test('a loop without a wait, an unknown target and an unreachable node are refused', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ a: { type: 'update-profile', args: { traits: { x: 1 } }, next: { next: 'a' } } }, 'nodes.a'],
      [
        { a: { type: 'update-profile', args: { traits: { x: 1 } }, next: { next: 'zz' } } },
        'nodes.a.next.next',
      ],
      [
        {
          a: { type: 'update-profile', args: { traits: { x: 1 } } },
          b: { type: 'update-profile', args: { traits: {} } },
        },
        'nodes.b',
      ],
      // A webhook body that is not an object is refused at publish, not retried at run time.
      [
        { a: { type: 'call-webhook', args: { url: 'https://example.com/hook', body: [1, 2] } } },
        'nodes.a.args.body',
      ],
    ];
    for (const [nodes, field] of cases) {
      const created = (
        await editor.ok(CREATE, {
          key: `bad-${crypto.randomUUID().slice(0, 8)}`,
          draft: { trigger: { type: 'api' }, start: 'a', nodes },
          inFlight: 'KEEP',
        })
      ).createJourney;
      const result = (
        await editor.ok(
          `mutation ($id: ID!, $inFlight: InFlightPolicy!) { publishJourney(input: { id: $id, inFlight: $inFlight }) { __typename ... on ValidationError { field } } }`,
          { id: created.journey.id, inFlight: 'KEEP' },
        )
      ).publishJourney;
      assert.deepEqual(result, { __typename: 'ValidationError', field }, JSON.stringify(nodes));
    }
  });

  test('viewers cannot publish', async () => {
    const viewer = env.adminClient.withToken(env.token('viewer'));
    const result = await viewer.query(
      `mutation { createJourney(input: { key: "v", name: "v", draft: {} }) { __typename } }`,
    );
    assert.equal(result.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  });
});

describe('triggers and steps', () => {
  test('an event with a matching property enters; wait, condition and send run in order', async () => {
    const journeyId = await publish('welcome', {
      trigger: { type: 'event', event: 'Signed Up', where: { plan: 'pro' } },
      start: 'pause',
      nodes: {
        pause: { type: 'wait', args: { minutes: 30 }, next: { next: 'check' } },
        check: {
          type: 'branch',
          args: { condition: { op: 'trait', args: { trait: 'country', comparator: 'equals', value: 'CH' } } },
          next: { yes: 'hello' },
        },
        hello: { type: 'send-message', args: { inboxId, text: 'Grüezi!', purpose: 'transactional' } },
      },
    });
    const pro = await seedProfile(env.atrium.orm, demo.id, {
      anonymousId: 'welcome-pro',
      traits: { country: 'CH' },
    });
    await sql(
      env.em(),
      `insert into identity (id, workspace_id, profile_id, type, value, created_at) values (gen_random_uuid(), $1, $2, 'phone', '+41791234567', now())`,
      [demo.id, pro],
    );
    const free = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'welcome-free' });
    await addEvents(env.atrium.orm, demo.id, pro, [{ name: 'Signed Up', properties: { plan: 'pro' } }]);
    await addEvents(env.atrium.orm, demo.id, free, [{ name: 'Signed Up', properties: { plan: 'free' } }]);
    const [waiting] = await until(
      journeyId,
      (rows) => rows[0]?.status === 'waiting',
      'the pro sign-up to wait',
    );
    assert.equal(waiting?.profile_id, pro);
    assert.equal((await enrollments(journeyId)).length, 1, 'the free plan did not match `where`');

    await timePasses(journeyId);
    const [done] = await until(
      journeyId,
      (rows) => rows[0]?.status === 'completed',
      'the journey to complete',
    );
    assert.deepEqual(
      (await ledger(done?.id as string)).map((r) => [r.node, r.outcome]),
      [
        ['pause', 'next'],
        ['check', 'yes'],
        ['hello', 'sent'],
      ],
    );
    await waitFor(() => sent.some((s) => s.text === 'Grüezi!'), 10000, 'the send to reach the channel');
    assert.equal(sent.filter((s) => s.text === 'Grüezi!').length, 1);
  });

  test('a journey sends a template part (a WhatsApp template) through the channel', async () => {
    const journeyId = await publish('template-part', {
      trigger: { type: 'api' },
      start: 'notify',
      nodes: {
        notify: {
          type: 'send-message',
          args: {
            inboxId,
            purpose: 'transactional',
            parts: [{ type: 'template', name: 'order_update', language: 'de', components: [] }],
          },
        },
      },
    });
    const profile = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'tpl-1' });
    await sql(
      env.em(),
      `insert into identity (id, workspace_id, profile_id, type, value, created_at) values (gen_random_uuid(), $1, $2, 'phone', '+41791112233', now())`,
      [demo.id, profile],
    );
    await enrollViaApi(journeyId, profile);
    await waitFor(() => sent.some((s) => s.to === '+41791112233'), 20000, 'the template send');
    const send = sent.find((s) => s.to === '+41791112233');
    assert.deepEqual(send?.parts, [
      { type: 'template', name: 'order_update', language: 'de', components: [] },
    ]);
  });

  test('a marketing send without consent is blocked and says why', async () => {
    const journeyId = await publish('promo', {
      trigger: { type: 'api' },
      start: 'offer',
      nodes: { offer: { type: 'send-message', args: { inboxId, text: 'Sale!', purpose: 'marketing' } } },
    });
    const profile = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'promo-1' });
    await sql(
      env.em(),
      `insert into identity (id, workspace_id, profile_id, type, value, created_at) values (gen_random_uuid(), $1, $2, 'phone', '+41797654321', now())`,
      [demo.id, profile],
    );
    const before = await env.em().count(ProbeEffect, {}, { filters: false });
    await enrollViaApi(journeyId, profile);
    const [done] = await until(journeyId, (rows) => rows[0]?.status === 'completed', 'the journey to end');
    const [step] = await ledger(done?.id as string);
    assert.equal(step?.outcome, 'blocked');
    assert.match(step?.note ?? '', /marketing_sms/);
    assert.equal(sent.filter((s) => s.text === 'Sale!').length, 0);
    const messages = await sql(env.em(), `select 1 from message where text = 'Sale!'`);
    assert.equal(messages.length, 0, 'no message row either');
    assert.equal(await env.em().count(ProbeEffect, {}, { filters: false }), before);

    await setConsent(env.atrium.orm, demo.id, profile, 'marketing_sms', true);
    const other = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'promo-2' });
    assert.ok(other);
  });

  test('segment entered, trait changed and api triggers enter; entry rules and cooldown refuse', async () => {
    const onTrait = await publish('vip', {
      trigger: { type: 'trait-changed', trait: 'tier' },
      entry: { reentry: 'after-exit', cooldownHours: 24 },
      start: 'mark',
      nodes: { mark: { type: 'probe.effect', args: {} } },
    });
    const profile = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'vip-1' });
    const setTier = (tier: string) =>
      env.adminClient
        .withToken(env.token('admin'))
        .ok(
          `mutation ($id: ID!, $traits: JSON!) { setProfileTraits(input: { profileId: $id, traits: $traits }) { __typename } }`,
          { id: gid('Profile', profile), traits: { tier } },
        );
    await setTier('gold');
    await until(onTrait, (rows) => rows[0]?.status === 'completed', 'the trait trigger');
    await setTier('platinum');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await enrollments(onTrait)).length, 1, 'the 24 h cooldown kept the second change out');

    const once = await publish('once', {
      trigger: { type: 'api' },
      start: 'mark',
      nodes: { mark: { type: 'probe.effect', args: {} } },
    });
    const first = await enrollViaApi(once, profile);
    assert.equal(first.refused, null);
    await until(once, (rows) => rows[0]?.status === 'completed', 'the api enrollment');
    const second = await enrollViaApi(once, profile);
    assert.match(second.refused, /does not allow re-entry/);
  });

  test('a wait for an event goes on when the event comes, and times out when it does not', async () => {
    const journeyId = await publish('cart', {
      trigger: { type: 'event', event: 'Cart Abandoned' },
      start: 'wait',
      nodes: {
        wait: {
          type: 'wait-for-event',
          args: { event: 'Order Completed', timeoutHours: 24 },
          next: { timeout: 'nudge' },
        },
        nudge: { type: 'probe.effect', args: {} },
      },
      goal: { event: 'Order Completed', withinHours: 48, exitOnGoal: false },
    });
    const buyer = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'cart-buyer' });
    const idler = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'cart-idler' });
    for (const p of [buyer, idler]) await addEvents(env.atrium.orm, demo.id, p, [{ name: 'Cart Abandoned' }]);
    await until(
      journeyId,
      (rows) => rows.length === 2 && rows.every((r) => r.status === 'waiting'),
      'both to wait',
    );
    await addEvents(env.atrium.orm, demo.id, buyer, [{ name: 'Order Completed' }]);
    await until(
      journeyId,
      (rows) => rows.find((r) => r.profile_id === buyer)?.status === 'completed',
      'the buyer to go on',
    );
    await timePasses(journeyId);
    const rows = await until(
      journeyId,
      (all) => all.every((r) => r.status === 'completed'),
      'the idler to time out',
    );
    const paths = Object.fromEntries(
      await Promise.all(rows.map(async (r) => [r.profile_id, (await ledger(r.id)).map((l) => l.outcome)])),
    );
    assert.deepEqual(paths[buyer], ['event']);
    assert.deepEqual(paths[idler], ['timeout', 'next']);
    const stats = await analytics(journeyId);
    assert.equal(stats.converted, 1);
    assert.equal(stats.enrolled, 2);
  });

  test('a time-of-day wait follows the profile clock across a daylight-saving change', async () => {
    // Its own API-only environment: no engine loop runs there, so only this call, with its clock in
    // March 2026, advances the enrollment.
    const quiet = await createTestEnvironment({ role: 'api' });
    try {
      const workspace = await quiet.workspace('demo');
      const runtime = quiet.atrium.runtimeOf('journeys');
      const definition = validateDefinition(
        {
          trigger: { type: 'api' },
          start: 'nine',
          nodes: { nine: { type: 'wait-until-time', args: { time: '09:00' } } },
        },
        { steps: runtime.journeySteps, operators: operatorRegistry(runtime.segmentOperators) },
      );
      const journeyId = crypto.randomUUID();
      await sql(
        quiet.em(),
        `insert into journey (id, workspace_id, key, name, status, draft, published_version, created_at, updated_at)
         values ($1, $2, 'morning', 'morning', 'published', $3::jsonb, 1, now(), now())`,
        [journeyId, workspace.id, JSON.stringify(definition)],
      );
      await sql(
        quiet.em(),
        `insert into journey_version (id, workspace_id, journey_id, version, definition, in_flight_policy, created_at)
         values (gen_random_uuid(), $1, $2, 1, $3::jsonb, 'keep', now())`,
        [workspace.id, journeyId, JSON.stringify(definition)],
      );
      const profile = await seedProfile(quiet.atrium.orm, workspace.id, {
        anonymousId: 'tz-1',
        traits: { timezone: 'Europe/Zurich' },
      });
      // Entered on the evening before clocks go forward (29 March 2026, 02:00 → 03:00 in Zurich).
      const [row] = await sql<{ id: string }>(
        quiet.em(),
        `insert into journey_enrollment (id, workspace_id, journey_id, version, profile_id, status, node, due_at, visits, control, context, entered_at, failures, updated_at)
         values (gen_random_uuid(), $1, $2, 1, $3, 'active', 'nine', '2026-03-28T20:00:00Z', 0, false, '{}', '2026-03-28T20:00:00Z', 0, now()) returning id`,
        [workspace.id, journeyId, profile],
      );
      await runDueEnrollments(
        runtime,
        { steps: runtime.journeySteps, batchSize: 10 },
        new Date('2026-03-28T20:00:01Z'),
      );
      const [after] = await sql<{ due_at: Date }>(
        quiet.em(),
        `select due_at from journey_enrollment where id = $1`,
        [row?.id],
      );
      // 09:00 in Zurich on 29 March is 07:00 UTC (summer time), not 08:00.
      assert.equal(new Date(after?.due_at as Date).toISOString(), '2026-03-29T07:00:00.000Z');
    } finally {
      await quiet.destroy();
    }
  });

  test('a step that keeps failing is retried with backoff, then the enrollment fails and says why', async () => {
    // API-only: only these calls, with their own clocks, advance the enrollment.
    const quiet = await createTestEnvironment({ role: 'api' });
    try {
      const workspace = await quiet.workspace('demo');
      const runtime = quiet.atrium.runtimeOf('journeys');
      // A version whose step type's plugin has since been removed from the deployment.
      const definition = {
        trigger: { type: 'api' },
        start: 'gone',
        nodes: { gone: { type: 'removed.step', args: {}, next: {} } },
      };
      const journeyId = crypto.randomUUID();
      await sql(
        quiet.em(),
        `insert into journey (id, workspace_id, key, name, status, draft, published_version, created_at, updated_at)
         values ($1, $2, 'orphan', 'orphan', 'published', $3::jsonb, 1, now(), now())`,
        [journeyId, workspace.id, JSON.stringify(definition)],
      );
      await sql(
        quiet.em(),
        `insert into journey_version (id, workspace_id, journey_id, version, definition, in_flight_policy, created_at)
         values (gen_random_uuid(), $1, $2, 1, $3::jsonb, 'keep', now())`,
        [workspace.id, journeyId, JSON.stringify(definition)],
      );
      const profile = await seedProfile(quiet.atrium.orm, workspace.id, { anonymousId: 'orphan-1' });
      const start = new Date('2030-01-01T00:00:00Z');
      const [row] = await sql<{ id: string }>(
        quiet.em(),
        `insert into journey_enrollment (id, workspace_id, journey_id, version, profile_id, status, node, due_at, visits, control, context, entered_at, failures, updated_at)
         values (gen_random_uuid(), $1, $2, 1, $3, 'active', 'gone', $4, 0, false, '{}', $4, 0, now()) returning id`,
        [workspace.id, journeyId, profile, start],
      );
      const state = async () =>
        (
          await sql<{ status: string; failures: number; due_at: Date | null; end_reason: string | null }>(
            quiet.em(),
            `select status, failures, due_at, end_reason from journey_enrollment where id = $1`,
            [row?.id],
          )
        )[0];
      let now = new Date(start.getTime() + 1000);
      for (let attempt = 1; attempt <= 5; attempt++) {
        await runDueEnrollments(runtime, { steps: runtime.journeySteps, batchSize: 10 }, now);
        const after = await state();
        assert.equal(after?.failures, attempt);
        assert.match(after?.end_reason ?? '', /no step type "removed\.step" is installed/);
        if (attempt < 5) {
          assert.equal(after?.status, 'active');
          // Backoff doubles: 10 s, 20 s, 40 s, 80 s after the failed attempt.
          assert.equal(new Date(after?.due_at as Date).getTime() - now.getTime(), 5000 * 2 ** attempt);
          now = new Date(new Date(after?.due_at as Date).getTime() + 1);
        } else {
          assert.equal(after?.status, 'failed');
          assert.equal(after?.due_at, null);
        }
      }
      const ledger = await sql(quiet.em(), `select 1 from journey_step_run where enrollment_id = $1`, [
        row?.id,
      ]);
      assert.equal(ledger.length, 0, 'a step that never ran leaves no ledger row');
    } finally {
      await quiet.destroy();
    }
  });

  test('a statement that fails inside a step fails that enrollment only; the rest of the batch advances', async () => {
    const quiet = await createTestEnvironment({ role: 'api' });
    try {
      const workspace = await quiet.workspace('demo');
      const runtime = quiet.atrium.runtimeOf('journeys');
      // A step whose SQL fails (a plugin's query, a statement timeout): it aborts what it ran in.
      const failingSql = defineStep({
        code: 'test.failing-sql',
        label: 'Failing SQL',
        description: 'Runs a statement PostgreSQL refuses',
        args: {},
        outcomes: () => ['next'],
        fn: async (_args, ctx) => {
          await sql(ctx.em, 'select 1 / 0');
          return { outcome: 'next' };
        },
      });
      const steps = new Map([...runtime.journeySteps, [failingSql.code, failingSql]]);
      const definition = {
        trigger: { type: 'api' },
        start: 'boom',
        nodes: {
          boom: { type: 'test.failing-sql', args: {}, next: { next: 'hold' } },
          // Stored versions hold validated arguments, defaults included.
          hold: { type: 'wait', args: { minutes: 0, hours: 1, days: 0 }, next: {} },
        },
      };
      const journeyId = crypto.randomUUID();
      await sql(
        quiet.em(),
        `insert into journey (id, workspace_id, key, name, status, draft, published_version, created_at, updated_at)
         values ($1, $2, 'sql-error', 'sql-error', 'published', $3::jsonb, 1, now(), now())`,
        [journeyId, workspace.id, JSON.stringify(definition)],
      );
      await sql(
        quiet.em(),
        `insert into journey_version (id, workspace_id, journey_id, version, definition, in_flight_policy, created_at)
         values (gen_random_uuid(), $1, $2, 1, $3::jsonb, 'keep', now())`,
        [workspace.id, journeyId, JSON.stringify(definition)],
      );
      const start = new Date('2030-01-01T00:00:00Z');
      const enroll = async (anonymousId: string, node: string) => {
        const profile = await seedProfile(quiet.atrium.orm, workspace.id, { anonymousId });
        const [row] = await sql<{ id: string }>(
          quiet.em(),
          `insert into journey_enrollment (id, workspace_id, journey_id, version, profile_id, status, node, due_at, visits, control, context, entered_at, failures, updated_at)
           values (gen_random_uuid(), $1, $2, 1, $3, 'active', $4, $5, 0, false, '{}', $5, 0, now()) returning id`,
          [workspace.id, journeyId, profile, node, start],
        );
        return row?.id as string;
      };
      const failing = await enroll('sql-error-1', 'boom');
      const fine = await enroll('sql-error-2', 'hold');
      await runDueEnrollments(runtime, { steps, batchSize: 10 }, new Date(start.getTime() + 1000));
      const rows = await sql<{
        id: string;
        status: string;
        failures: number;
        end_reason: string | null;
        visits: number;
      }>(
        quiet.em(),
        `select id, status, failures, end_reason, visits from journey_enrollment where journey_id = $1`,
        [journeyId],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      assert.equal(byId.get(failing)?.failures, 1);
      assert.match(byId.get(failing)?.end_reason ?? '', /division by zero/);
      assert.equal(byId.get(fine)?.failures, 0);
      assert.equal(byId.get(fine)?.visits, 1, 'the other enrollment did not advance');
    } finally {
      await quiet.destroy();
    }
  });

  test('a split with a control group, and analytics with uplift and drop-offs', async () => {
    const journeyId = await publish('split', {
      trigger: { type: 'api' },
      entry: { reentry: 'always' },
      start: 'arms',
      nodes: {
        arms: {
          type: 'split',
          args: {
            arms: [
              { name: 'treat', percent: 50 },
              { name: 'control', percent: 50 },
            ],
          },
          next: { treat: 'hold' },
        },
        hold: { type: 'wait', args: { days: 1 }, next: { next: 'mark' } },
        mark: { type: 'probe.effect', args: {} },
      },
      goal: { event: 'Converted', withinHours: 720, exitOnGoal: true },
    });
    const profiles: string[] = [];
    for (let i = 0; i < 40; i++)
      profiles.push(await seedProfile(env.atrium.orm, demo.id, { anonymousId: `split-${i}` }));
    for (const p of profiles) await enrollViaApi(journeyId, p);
    const rows = await until(
      journeyId,
      (all) => all.length === 40 && all.every((r) => r.status !== 'active'),
      'the split',
    );
    const control = rows.filter((r) => r.control);
    assert.ok(
      control.length > 5 && control.length < 35,
      `a roughly even split, got ${control.length} of 40 in control`,
    );
    // Half the treated convert; nobody in control does. Then the rest leave by hand (drop-off at "hold").
    const treated = rows.filter((r) => !r.control);
    for (const r of treated.slice(0, Math.ceil(treated.length / 2))) {
      await addEvents(env.atrium.orm, demo.id, r.profile_id, [{ name: 'Converted' }]);
    }
    await waitFor(
      async () => (await analytics(journeyId)).converted === Math.ceil(treated.length / 2),
      20000,
      'conversions',
    );
    for (const r of treated.slice(Math.ceil(treated.length / 2))) {
      await editor.ok(
        `mutation ($j: ID!, $p: ID!) { exitJourney(input: { journeyId: $j, profileId: $p }) { __typename } }`,
        {
          j: journeyId,
          p: gid('Profile', r.profile_id),
        },
      );
    }
    const stats = await analytics(journeyId);
    assert.equal(stats.control.converted, 0);
    assert.ok(stats.upliftPoints > 0);
    assert.equal(stats.dropOffs[0]?.node, 'hold');
    assert.equal(stats.dropOffs[0]?.dropped, treated.length - Math.ceil(treated.length / 2));
  });

  test('a new version with KEEP leaves running enrollments on theirs; EXIT ends them', async () => {
    const draft = (days: number) => ({
      trigger: { type: 'api' },
      start: 'hold',
      nodes: { hold: { type: 'wait', args: { days } } },
    });
    const journeyId = await publish('versions', draft(1));
    const a = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'ver-a' });
    await enrollViaApi(journeyId, a);
    await until(journeyId, (rows) => rows[0]?.status === 'waiting', 'waiting on v1');
    await editor.ok(
      `mutation ($id: ID!, $d: JSON!) { updateJourneyDraft(input: { id: $id, draft: $d }) { __typename } }`,
      { id: journeyId, d: draft(2) },
    );
    assert.equal((await publishDraft(journeyId, 'KEEP')).exitedEnrollments, 0);
    const b = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'ver-b' });
    await enrollViaApi(journeyId, b);
    const rows = await until(
      journeyId,
      (all) => all.length === 2 && all.every((r) => r.status === 'waiting'),
      'both waiting',
    );
    assert.deepEqual(
      rows.map((r) => r.version),
      [1, 2],
    );
    assert.equal((await publishDraft(journeyId, 'EXIT')).exitedEnrollments, 2);
    const ended = await enrollments(journeyId);
    assert.deepEqual(
      ended.map((r) => r.end_reason),
      ['replaced by version 3', 'replaced by version 3'],
    );
  });

  test('the simulator shows the path for a profile and changes nothing', async () => {
    const created = (
      await editor.ok(CREATE, {
        key: 'sim',
        draft: {
          trigger: { type: 'api' },
          start: 'hold',
          nodes: {
            hold: { type: 'wait', args: { hours: 2 }, next: { next: 'set' } },
            set: { type: 'update-profile', args: { traits: { simulated: true } }, next: { next: 'mark' } },
            mark: { type: 'probe.effect', args: {} },
          },
        },
      })
    ).createJourney;
    const profile = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'sim-1' });
    const effects = await env.em().count(ProbeEffect, {}, { filters: false });
    const trail = (
      await editor.ok(
        `query ($j: ID!, $p: ID!) { simulateJourney(journeyId: $j, profileId: $p) { __typename ... on QuerySimulateJourneySuccess { data { node outcome note } } } }`,
        { j: created.journey.id, p: gid('Profile', profile) },
      )
    ).simulateJourney;
    assert.deepEqual(
      trail.data.map((s: { node: string }) => s.node),
      ['hold', 'set', 'mark'],
    );
    const [traits] = await sql<{ traits: Record<string, unknown> }>(
      env.em(),
      `select traits from profile where id = $1`,
      [profile],
    );
    assert.equal(traits?.traits.simulated, undefined);
    assert.equal(await env.em().count(ProbeEffect, {}, { filters: false }), effects);
    // Another workspace's editor cannot read this draft through the simulator.
    const stranger = env.adminClient.withToken(env.token('editor', 'other'));
    const foreign = (
      await stranger.ok(
        `query ($j: ID!, $p: ID!) { simulateJourney(journeyId: $j, profileId: $p) { __typename ... on QuerySimulateJourneySuccess { data { node } } } }`,
        { j: created.journey.id, p: gid('Profile', profile) },
      )
    ).simulateJourney;
    assert.equal(foreign.__typename, 'NotFoundError', JSON.stringify(foreign));
  });
});

describe('time triggers, caps, quiet hours and webhooks', () => {
  const phone = async (anonymousId: string, number: string, traits: Record<string, unknown> = {}) => {
    const id = await seedProfile(env.atrium.orm, demo.id, { anonymousId, traits });
    await sql(
      env.em(),
      `insert into identity (id, workspace_id, profile_id, type, value, created_at) values (gen_random_uuid(), $1, $2, 'phone', $3, now())`,
      [demo.id, id, number],
    );
    return id;
  };
  const policy = (input: Record<string, unknown>) =>
    env.adminClient
      .withToken(env.token('admin'))
      .ok(
        `mutation ($input: SetJourneyChannelPolicyInput!) { setJourneyChannelPolicy(input: $input) { __typename } }`,
        { input },
      );

  test('a frequency cap stops the second send of the day; quiet hours postpone a send to their end', async () => {
    const journeyId = await publish('capped', {
      trigger: { type: 'api' },
      entry: { reentry: 'always' },
      start: 'send',
      nodes: {
        send: {
          type: 'send-message',
          args: { inboxId, text: 'Your parcel is on its way', purpose: 'transactional' },
        },
      },
    });
    const profile = await phone('cap-1', '+41791110000');
    await policy({ channel: 'test-sms', maxPerDay: 1 });
    await enrollViaApi(journeyId, profile);
    await until(journeyId, (rows) => rows[0]?.status === 'completed', 'the first send');
    await enrollViaApi(journeyId, profile);
    const rows = await until(
      journeyId,
      (all) => all.length === 2 && all.every((r) => r.status === 'completed'),
      'the second',
    );
    assert.deepEqual(await Promise.all(rows.map(async (r) => (await ledger(r.id))[0]?.outcome)), [
      'sent',
      'capped',
    ]);

    // Quiet from an hour ago to an hour from now, on the profile's clock (UTC here).
    const hhmm = (offsetHours: number) =>
      new Date(Date.now() + offsetHours * 3_600_000).toISOString().slice(11, 16);
    await policy({ channel: 'test-sms', quietStart: hhmm(-1), quietEnd: hhmm(1) });
    const night = await phone('quiet-1', '+41791110001');
    await enrollViaApi(journeyId, night);
    await waitFor(
      async () => (await enrollments(journeyId)).some((r) => r.profile_id === night && r.node === 'send'),
      20000,
      'the postponed send',
    );
    await waitFor(
      async () => {
        const [row] = await sql<{ due_at: Date; note: string | null }>(
          env.em(),
          `select e.due_at, r.note from journey_enrollment e join journey_step_run r on r.enrollment_id = e.id where e.profile_id = $1`,
          [night],
        );
        return (
          row?.note === 'quiet hours on test-sms' &&
          new Date(row.due_at).toISOString().slice(11, 16) === hhmm(1)
        );
      },
      20000,
      'the send to wait for the end of the quiet hours',
    );
    await policy({ channel: 'test-sms' });
  });

  test('a date relative to a trait and a schedule enter the profiles whose day it is, once', async () => {
    const inThirtyDays = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    const renewal = await publish('renewal', {
      trigger: { type: 'trait-date', trait: 'contract_end', offsetDays: -30, time: '00:00' },
      start: 'mark',
      nodes: { mark: { type: 'probe.effect', args: {} } },
    });
    const due = await seedProfile(env.atrium.orm, demo.id, {
      anonymousId: 'renew-1',
      traits: { contract_end: inThirtyDays },
    });
    await seedProfile(env.atrium.orm, demo.id, {
      anonymousId: 'renew-2',
      traits: { contract_end: '2031-01-01' },
    });
    const weekly = await publish('digest', {
      trigger: {
        type: 'schedule',
        at: '00:00',
        timeZone: 'Europe/Zurich',
        everyDays: 1,
        segment: 'never-made',
      },
      start: 'mark',
      nodes: { mark: { type: 'probe.effect', args: {} } },
    });
    const scan = () => {
      const em = env.atrium.orm.em.fork();
      em.setFilterParams(WORKSPACE_FILTER, { id: demo.id });
      return em.transactional((tx) => scanScheduledTriggers(tx, demo.id, new Date()));
    };
    await scan();
    await scan();
    const rows = await until(renewal, (all) => all[0]?.status === 'completed', 'the renewal reminder');
    assert.deepEqual(
      rows.map((r) => r.profile_id),
      [due],
      'once, for the profile whose date it is',
    );
    assert.equal((await enrollments(weekly)).length, 0, 'no member of the (missing) segment');
  });

  test('a webhook step posts once with a stable idempotency key', async () => {
    const received: { key: string | undefined; body: Record<string, unknown> }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        received.push({ key: req.headers['idempotency-key'] as string | undefined, body: JSON.parse(body) });
        // The first call fails: the job retries with the same key.
        res.writeHead(received.length === 1 ? 503 : 204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const journeyId = await publish('crm', {
        trigger: { type: 'api' },
        start: 'tell',
        nodes: {
          tell: {
            type: 'call-webhook',
            args: { url: `http://127.0.0.1:${port}/hook`, body: { reason: 'welcome' } },
          },
        },
      });
      const profile = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'crm-1' });
      await enrollViaApi(journeyId, profile);
      await waitFor(() => received.length >= 2, 60000, 'the retried webhook call');
      assert.equal(received[0]?.key, received[1]?.key);
      assert.equal(received[1]?.body.profileId, profile);
      assert.equal(received[1]?.body.reason, 'welcome');
    } finally {
      server.close();
    }
  });
});

describe('segments, exits and profile updates', () => {
  const setTraits = (profileId: string, traits: Record<string, unknown>) =>
    env.adminClient
      .withToken(env.token('admin'))
      .ok(
        `mutation ($id: ID!, $traits: JSON!) { setProfileTraits(input: { profileId: $id, traits: $traits }) { __typename } }`,
        { id: gid('Profile', profileId), traits },
      );

  test('entering a segment starts a journey; leaving it, or an exit event, ends it; update-profile writes traits', async () => {
    const segment = (
      await editor.ok(
        `mutation ($input: CreateSegmentInput!) { createSegment(input: $input) { ... on CreateSegmentPayload { segment { id } } } }`,
        {
          input: {
            key: 'gold',
            name: 'Gold',
            condition: { op: 'trait', args: { trait: 'tier', comparator: 'equals', value: 'gold' } },
          },
        },
      )
    ).createSegment.segment;
    await waitFor(
      async () =>
        (await editor.ok(`query ($id: ID!) { segment(id: $id) { status } }`, { id: segment.id })).segment
          .status === 'ACTIVE',
      20000,
      'the segment to be computed',
    );
    const journeyId = await publish('gold-welcome', {
      trigger: { type: 'segment-entered', segment: 'gold' },
      exit: { segmentExited: 'gold', event: 'Complained' },
      start: 'stamp',
      nodes: {
        stamp: { type: 'update-profile', args: { traits: { welcomed: 'gold' } }, next: { next: 'hold' } },
        hold: { type: 'wait', args: { days: 7 } },
      },
    });
    const leaver = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'gold-1' });
    const complainer = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'gold-2' });
    for (const p of [leaver, complainer]) await setTraits(p, { tier: 'gold' });
    await until(
      journeyId,
      (rows) => rows.length === 2 && rows.every((r) => r.status === 'waiting'),
      'both to enter and wait',
    );
    const [traits] = await sql<{ welcomed: string }>(
      env.em(),
      `select traits ->> 'welcomed' as welcomed from profile where id = $1`,
      [leaver],
    );
    assert.equal(traits?.welcomed, 'gold', 'update-profile set the trait');

    await setTraits(leaver, { tier: 'silver' });
    await addEvents(env.atrium.orm, demo.id, complainer, [{ name: 'Complained' }]);
    const rows = await until(journeyId, (all) => all.every((r) => r.status === 'exited'), 'both to exit');
    const reasons = Object.fromEntries(rows.map((r) => [r.profile_id, r.end_reason]));
    assert.equal(reasons[leaver], 'left segment gold');
    assert.equal(reasons[complainer], 'exit event Complained');
  });

  test('a schedule enters the members of its segment once per day', async () => {
    const member = await seedProfile(env.atrium.orm, demo.id, { anonymousId: 'digest-1' });
    await setTraits(member, { tier: 'gold' });
    await waitFor(
      async () =>
        (
          await sql(
            env.em(),
            `select 1 from segment_membership m join segment s on s.id = m.segment_id where s.key = 'gold' and m.profile_id = $1`,
            [member],
          )
        ).length === 1,
      20000,
      'the membership',
    );
    const journeyId = await publish('gold-digest', {
      trigger: { type: 'schedule', at: '00:00', timeZone: 'UTC', everyDays: 1, segment: 'gold' },
      start: 'mark',
      nodes: { mark: { type: 'probe.effect', args: {} } },
    });
    const scan = () => {
      const em = env.atrium.orm.em.fork();
      em.setFilterParams(WORKSPACE_FILTER, { id: demo.id });
      return em.transactional((tx) => scanScheduledTriggers(tx, demo.id, new Date()));
    };
    await scan();
    await scan();
    const rows = await until(
      journeyId,
      (all) => all.length > 0 && all.every((r) => r.status === 'completed'),
      'the digest',
    );
    assert.ok(rows.some((r) => r.profile_id === member));
    assert.equal(new Set(rows.map((r) => r.profile_id)).size, rows.length, 'each member once');
  });
});

async function enrollViaApi(journeyId: string, profileId: string) {
  const result = (
    await editor.ok(
      `mutation ($j: ID!, $p: ID!) { enrollInJourney(input: { journeyId: $j, profileId: $p }) {
        __typename ... on EnrollInJourneyPayload { refused enrollment { id } } ... on ValidationError { message } } }`,
      { j: journeyId, p: gid('Profile', profileId) },
    )
  ).enrollInJourney;
  assert.equal(result.__typename, 'EnrollInJourneyPayload', JSON.stringify(result));
  return result;
}

async function analytics(journeyId: string) {
  return (
    await editor.ok(
      `query ($id: ID!) { node(id: $id) { ... on Journey { analytics {
        enrolled converted upliftPoints control { converted enrolled } treatment { converted enrolled }
        dropOffs { node dropped } } } } }`,
      { id: journeyId },
    )
  ).node.analytics;
}
