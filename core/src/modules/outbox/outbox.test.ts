import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from '../../db/sql.ts';
import { ProbeEffect, probeControl, probePlugin } from '../../testing/fixtures/probe-plugin.ts';
import { createTestEnvironment, type TestEnvironment, waitFor } from '../../testing/index.ts';
import { EventDelivery, OutboxEvent } from './entities.ts';
import { cleanUpOutbox } from './jobs.ts';

const CREATE_KEY =
  'mutation ($name: String!) { createApiKey(input: { name: $name, role: VIEWER }) { __typename } }';
const bin = new URL('../../../bin/atrium.js', import.meta.url).pathname;
const probeConfig = new URL('../../testing/fixtures/probe.config.ts', import.meta.url).pathname;

describe('events commit with the change and reach handlers', () => {
  let env: TestEnvironment;
  before(async () => {
    env = await createTestEnvironment({ plugins: [probePlugin({})], settings: { OUTBOX_RETRY_LIMIT: '2' } });
  });
  after(() => env?.destroy());

  test('the event is written in the same transaction as the change, then handled once', async () => {
    probeControl.failing = false;
    await env.adminClient.withToken(env.token('admin')).ok(CREATE_KEY, { name: 'k1' });
    const em = env.em();
    const event = await em.findOneOrFail(
      OutboxEvent,
      { type: 'api-key.created', payload: { name: 'k1' } },
      { filters: false },
    );
    await waitFor(
      async () => {
        const d = await env.em().findOne(EventDelivery, { event: event.id }, { filters: false });
        return d?.status === 'succeeded';
      },
      15000,
      'delivery to the probe',
    );
    const effects = await env.em().find(ProbeEffect, { eventId: event.id }, { filters: false });
    assert.equal(effects.length, 1);
  });

  test('bad input writes neither the change nor an event', async () => {
    const before = await env.em().count(OutboxEvent, {}, { filters: false });
    const result = await env.adminClient
      .withToken(env.token('admin'))
      .ok(
        'mutation { createApiKey(input: { name: "   ", role: VIEWER }) { __typename ... on ValidationError { field message } } }',
      );
    assert.equal(result.createApiKey.__typename, 'ValidationError');
    assert.equal(result.createApiKey.field, 'name');
    assert.equal(await env.em().count(OutboxEvent, {}, { filters: false }), before);
  });

  test('a handler that keeps failing ends dead, admins list it and retry it through GraphQL', async () => {
    probeControl.failing = true;
    const admin = env.adminClient.withToken(env.token('admin'));
    await admin.ok(CREATE_KEY, { name: 'k-fail' });
    const dead = await waitFor(
      async () => {
        const data = await admin.ok(
          '{ eventDeliveries(status: DEAD) { edges { node { id handler attempts lastError eventType payload } } } }',
        );
        return data.eventDeliveries.edges.find((e: any) => e.node.payload.name === 'k-fail')?.node;
      },
      30000,
      'the dead letter',
    );
    assert.equal(dead.handler, 'probe:record');
    assert.equal(dead.eventType, 'api-key.created');
    assert.equal(dead.attempts, 3, 'first try plus OUTBOX_RETRY_LIMIT=2 retries');
    assert.match(dead.lastError, /probe told to fail/);
    assert.equal(
      await env.em().count(ProbeEffect, { eventType: 'api-key.created' }, { filters: false }),
      1,
      'failed attempts left no effect behind',
    );

    const notDead = await admin.ok(
      'mutation ($id: ID!) { retryEventDelivery(input: { id: $id }) { __typename ... on Error { code } } }',
      {
        id: (await admin.ok('{ eventDeliveries(status: SUCCEEDED) { edges { node { id } } } }'))
          .eventDeliveries.edges[0].node.id,
      },
    );
    assert.equal(notDead.retryEventDelivery.__typename, 'ValidationError');

    probeControl.failing = false;
    const retried = await admin.ok(
      'mutation ($id: ID!) { retryEventDelivery(input: { id: $id }) { __typename ... on RetryEventDeliveryPayload { eventDelivery { status } } } }',
      { id: dead.id },
    );
    assert.equal(retried.retryEventDelivery.eventDelivery.status, 'PENDING');
    await waitFor(
      async () => {
        const data = await admin.ok(
          'query ($id: ID!) { node(id: $id) { ... on EventDelivery { status } } }',
          { id: dead.id },
        );
        return data.node.status === 'SUCCEEDED';
      },
      15000,
      'the retried delivery',
    );
    assert.equal(await env.em().count(ProbeEffect, { eventType: 'api-key.created' }, { filters: false }), 2);
  });

  test('only admins see dead letters', async () => {
    const result = await env.adminClient
      .withToken(env.token('editor'))
      .query('{ eventDeliveries { edges { node { id } } } }');
    assert.equal(result.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  });
});

describe('a worker killed mid-handler', () => {
  let env: TestEnvironment;
  const workers: ChildProcess[] = [];
  before(async () => {
    // The API runs here; the workers run as separate `atrium worker` processes.
    env = await createTestEnvironment({ plugins: [probePlugin({})], role: 'api' });
  });
  after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await env?.destroy();
  });

  function startWorker(extraEnv: Record<string, string>): ChildProcess {
    const child = spawn(process.execPath, [bin, 'worker'], {
      env: {
        ...process.env,
        DATABASE_URL: env.databaseUrl,
        ATRIUM_CONFIG: probeConfig,
        ATRIUM_DATA_DIR: env.dataDir,
        LOG_LEVEL: 'warn',
        JOBS_EXPIRE_S: '2',
        JOBS_SUPERVISE_INTERVAL_S: '1',
        OUTBOX_POLL_MS: '100',
        ...extraEnv,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    workers.push(child);
    return child;
  }

  test('its handler effect happens exactly once after a restart', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'atrium-kill-')), 'in-handler');
    const first = startWorker({ PROBE_HANG_MARKER: marker });
    await env.adminClient.withToken(env.token('admin')).ok(CREATE_KEY, { name: 'k-kill' });
    await waitFor(() => existsSync(marker), 30000, 'the handler to start');
    const eventId = readFileSync(marker, 'utf8');
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    assert.equal(
      await env.em().count(ProbeEffect, { eventId }, { filters: false }),
      0,
      'the uncommitted effect was rolled back',
    );

    startWorker({});
    await waitFor(
      async () => {
        const d = await env.em().findOne(EventDelivery, { event: eventId }, { filters: false });
        return d?.status === 'succeeded';
      },
      30000,
      'the delivery after restart',
    );
    // Give a duplicate every chance to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(await env.em().count(ProbeEffect, { eventId }, { filters: false }), 1);
  });
});

describe('outbox retention', () => {
  let env: TestEnvironment;
  before(async () => {
    env = await createTestEnvironment({ settings: { OUTBOX_RETENTION_DAYS: '7' } });
  });
  after(() => env?.destroy());

  test('delivered events older than the retention go; dead letters and recent events stay', async () => {
    const demo = await env.workspace('demo');
    const em = env.em();
    const add = async (daysAgo: number, status: string | null) => {
      const id = crypto.randomUUID();
      await sql(
        em,
        `insert into outbox_event (id, workspace_id, type, payload, occurred_at, published_at)
         values ($1, $2, 'test.happened', '{}', now() - make_interval(days => $3), now())`,
        [id, demo.id, daysAgo],
      );
      if (status) {
        await sql(
          em,
          `insert into event_delivery (id, workspace_id, event_id, handler, status, attempts, created_at, updated_at)
           values (gen_random_uuid(), $1, $2, 'test:handler', $3, 1, now(), now())`,
          [demo.id, id, status],
        );
      }
      return id;
    };
    const oldDelivered = await add(10, 'succeeded');
    const oldUnsubscribed = await add(10, null);
    const oldDead = await add(10, 'dead');
    const recent = await add(1, 'succeeded');

    const removed = await cleanUpOutbox({ em, settings: env.atrium.settings, logger: env.atrium.logger });
    assert.equal(removed, 2);
    const left = (await sql<{ id: string }>(em, 'select id::text as id from outbox_event')).map((r) => r.id);
    assert.ok(!left.includes(oldDelivered) && !left.includes(oldUnsubscribed));
    assert.ok(left.includes(oldDead), 'a dead letter waits for an admin');
    assert.ok(left.includes(recent));
    const deliveries = await sql<{ n: string }>(
      em,
      `select count(*) as n from event_delivery where event_id = $1`,
      [oldDelivered],
    );
    assert.equal(Number(deliveries[0]?.n), 0);
  });
});
