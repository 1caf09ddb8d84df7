import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from '../../../db/sql.ts';
import {
  createTestEnvironment,
  type GraphQLClient,
  type TestEnvironment,
  waitFor,
} from '../../../testing/index.ts';
import type { WorkspaceEntity } from '../../workspaces/entities.ts';
import { RETENTION_QUEUE } from './jobs.ts';
import { applyRetention } from './retention.ts';
import { identity, insertEvents, profileOf } from './test-fixtures.ts';

const SET_POLICY = `mutation ($eventType: String!, $days: Int!) {
  setRetentionPolicy(input: { eventType: $eventType, days: $days }) {
    __typename
    ... on SetRetentionPolicyPayload { policy { eventType days } }
    ... on ValidationError { field message }
  }
}`;
const APPLY = 'mutation { applyRetention { total deleted { eventType deleted } } }';

describe('event retention', () => {
  let env: TestEnvironment;
  let demo: WorkspaceEntity;
  let other: WorkspaceEntity;
  let admin: GraphQLClient;

  const jobsOf = (state: string) =>
    sql<{ start_after: string }>(
      env.em(),
      'select start_after from pgboss.job where name = $1 and state = $2',
      [RETENTION_QUEUE, state],
    );
  const eventNames = async (profileId: string) =>
    (
      await sql<{ name: string }>(env.em(), 'select name from event where profile_id = $1 order by name', [
        profileId,
      ])
    ).map((r) => r.name);

  before(async () => {
    env = await createTestEnvironment();
    demo = await env.workspace('demo');
    other = await env.workspace('other');
    admin = env.adminClient.withToken(env.token('admin'));
    // The boot queued this slot's run; it ran with no policies. Wait, so it cannot race the tests.
    await waitFor(async () => (await jobsOf('completed')).length === 1, 15000, 'the first scheduled run');
  });
  after(() => env?.destroy());

  test('it runs by itself: one run per hourly slot, the next one queued, however often it is asked', async () => {
    const next = await jobsOf('created');
    assert.equal(next.length, 1);
    const startsIn = new Date(next[0]?.start_after ?? 0).getTime() - Date.now();
    assert.ok(startsIn > 0 && startsIn <= 3600_000 + 5000, `next run in ${startsIn} ms`);
    // What a second process booting, or the next run itself, does: no duplicate.
    await env.atrium.jobs.send(
      RETENTION_QUEUE,
      {},
      {
        singletonKey: 'every',
        singletonSeconds: 3600,
        singletonNextSlot: true,
      },
    );
    assert.equal((await jobsOf('created')).length, 1);
  });

  test('policies: at least 7 days, known event types, admins only', async () => {
    const short = await admin.ok(SET_POLICY, { eventType: 'track', days: 6 });
    assert.equal(short.setRetentionPolicy.__typename, 'ValidationError');
    assert.equal(short.setRetentionPolicy.field, 'days');
    assert.match(short.setRetentionPolicy.message, /from 7 \(ingestion dedupes messageId for 7 days\)/);
    const unknown = await admin.ok(SET_POLICY, { eventType: 'click', days: 30 });
    assert.equal(unknown.setRetentionPolicy.field, 'eventType');
    const agent = env.adminClient.withToken(env.token('agent'));
    assert.equal(
      (await agent.query(SET_POLICY, { eventType: 'track', days: 30 })).errors?.[0]?.extensions?.code,
      'FORBIDDEN',
    );
    assert.equal((await agent.query(APPLY)).errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const list = await admin.ok('{ retentionPolicies { eventType days } }');
    assert.deepEqual(list.retentionPolicies, []);

    await admin.ok(SET_POLICY, { eventType: 'page', days: 10 });
    const changed = await admin.ok(SET_POLICY, { eventType: 'page', days: 20 });
    assert.deepEqual(changed.setRetentionPolicy.policy, { eventType: 'page', days: 20 });
    const removed = await admin.ok(
      'mutation { removeRetentionPolicy(input: { eventType: "page" }) { __typename ... on NotFoundError { message } } }',
    );
    assert.equal(removed.removeRetentionPolicy.__typename, 'RemoveRetentionPolicyPayload');
    const again = await admin.ok(
      'mutation { removeRetentionPolicy(input: { eventType: "page" }) { __typename } }',
    );
    assert.equal(again.removeRetentionPolicy.__typename, 'NotFoundError');
  });

  test('old events go per type; late arrivals live through the dedupe window; other workspaces keep theirs', async () => {
    const profileId = await profileOf(env, demo.id, [identity('user_id', 'retention-user-1')]);
    const foreignId = await profileOf(env, other.id, [identity('user_id', 'retention-user-1')]);
    await insertEvents(env, demo.id, profileId, [
      { name: 'track 40d', daysAgo: 40 },
      { name: 'track 10d', daysAgo: 10 },
      { type: 'page', name: 'page 40d', daysAgo: 40 },
      { type: 'page', name: 'page 100d', daysAgo: 100 },
      { type: 'identify', name: 'identify 100d received 1d', daysAgo: 100, receivedDaysAgo: 1 },
    ]);
    await insertEvents(env, other.id, foreignId, [{ name: 'track 40d', daysAgo: 40 }]);
    await admin.ok(SET_POLICY, { eventType: 'track', days: 30 });
    await admin.ok(SET_POLICY, { eventType: '*', days: 90 });

    const run = await admin.ok(APPLY);
    assert.equal(run.applyRetention.total, 2);
    assert.deepEqual(
      Object.fromEntries(
        run.applyRetention.deleted.map((d: { eventType: string; deleted: number }) => [
          d.eventType,
          d.deleted,
        ]),
      ),
      { track: 1, page: 1, identify: 0, screen: 0, group: 0, alias: 0 },
      'every type a policy covers, with what went',
    );
    assert.deepEqual(await eventNames(profileId), ['identify 100d received 1d', 'page 40d', 'track 10d']);
    assert.deepEqual(await eventNames(foreignId), ['track 40d']);
  });

  test('deletes run in batches, and the scheduled job applies every workspace', async () => {
    const profileId = await profileOf(env, demo.id, [identity('user_id', 'retention-user-2')]);
    await insertEvents(
      env,
      demo.id,
      profileId,
      Array.from({ length: 5 }, (_, i) => ({ name: `old ${i}`, daysAgo: 50 })),
    );
    const outcome = await applyRetention(env.em(), { workspaceId: demo.id, batchSize: 2 });
    assert.equal(outcome.deleted.track, 5);
    assert.deepEqual(await eventNames(profileId), []);

    const foreignId = await profileOf(env, other.id, [identity('user_id', 'retention-user-2')]);
    await insertEvents(env, demo.id, profileId, [{ name: 'old again', daysAgo: 50 }]);
    await insertEvents(env, other.id, foreignId, [{ name: 'old there', daysAgo: 50 }]);
    await sql(
      env.em(),
      `insert into retention_policy (id, workspace_id, event_type, days, created_at, updated_at)
       values (gen_random_uuid(), $1, 'track', 7, now(), now())`,
      [other.id],
    );
    await env.atrium.jobs.send(RETENTION_QUEUE, {});
    await waitFor(
      async () => (await eventNames(profileId)).length + (await eventNames(foreignId)).length === 0,
      15000,
      'the job to delete both workspaces’ old events',
    );
  });
});
