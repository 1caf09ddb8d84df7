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
import { EXPIRE_WINDOWS } from './jobs.ts';
import { addEvents, seedProfile, setConsent } from './test-fixtures.ts';

let env: TestEnvironment;
let demo: WorkspaceEntity;
let editor: GraphQLClient;
let admin: GraphQLClient;

before(async () => {
  env = await createTestEnvironment();
  demo = await env.workspace('demo');
  editor = env.adminClient.withToken(env.token('editor'));
  admin = env.adminClient.withToken(env.token('admin'));
});
after(() => env?.destroy());

/** Waits until no background work (outbox, deliveries, recomputes, jobs) is left to change rows. */
async function settled(): Promise<void> {
  await waitFor(
    async () => {
      const [row] = await sql<{ n: string }>(
        env.em(),
        `select (select count(*) from outbox_event where published_at is null)
           + (select count(*) from event_delivery where status = 'pending')
           + (select count(*) from segment where status = 'computing')
           + (select count(*) from pgboss.job where state in ('created', 'retry', 'active')
                and singleton_key is distinct from 'every') as n`,
      );
      return Number(row?.n) === 0;
    },
    30000,
    'background work to settle',
  );
}

async function countRows(table: string): Promise<number> {
  return Number((await sql<{ n: string }>(env.em(), `select count(*) as n from ${table}`))[0]?.n);
}

const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');

const CREATE = `mutation ($input: CreateSegmentInput!) {
  createSegment(input: $input) {
    __typename
    ... on CreateSegmentPayload { segment { id key status } }
    ... on ValidationError { field message }
  }
}`;
const SEGMENT = `query ($id: ID!) {
  segment(id: $id) { key status computedProfiles totalProfiles progress memberCount lastComputedAt }
}`;

async function create(input: Record<string, unknown>, client = editor) {
  return (await client.ok(CREATE, { input })).createSegment;
}

async function createActive(input: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const created = await create(input);
  assert.equal(created.__typename, 'CreateSegmentPayload', JSON.stringify(created));
  await waitFor(
    async () => (await editor.ok(SEGMENT, { id: created.segment.id })).segment.status === 'ACTIVE',
    20000,
    `segment ${String(input.key)} to become active`,
  );
  return created.segment;
}

async function membersOf(key: string): Promise<string[]> {
  const rows = await sql<{ profile_id: string }>(
    env.em(),
    `select m.profile_id::text as profile_id from segment_membership m join segment s on s.id = m.segment_id
     where s.key = $1 and s.workspace_id = $2 order by 1`,
    [key, demo.id],
  );
  return rows.map((r) => r.profile_id);
}

async function outbox(type: string, key: string): Promise<string[]> {
  const rows = await sql<{ profile_id: string }>(
    env.em(),
    `select payload->>'profileId' as profile_id from outbox_event
     where type = $1 and payload->>'segmentKey' = $2 and workspace_id = $3 order by occurred_at`,
    [type, key, demo.id],
  );
  return rows.map((r) => r.profile_id);
}

const buyersCondition = {
  op: 'event_count',
  args: { event: 'Order Completed', comparator: 'gte', count: 2, withinDays: 30 },
};

describe('definitions as data', () => {
  test('operators are listed with typed, labelled arguments for a form', async () => {
    const data = await editor.ok(
      '{ segmentOperators { code label args { name type label required default options min max } } }',
    );
    const byCode = Object.fromEntries(data.segmentOperators.map((o: any) => [o.code, o]));
    assert.deepEqual(Object.keys(byCode).sort(), [
      'computed_trait',
      'consent',
      'event_count',
      'event_property',
      'segment',
      'trait',
    ]);
    const window = byCode.event_count.args.find((a: any) => a.name === 'withinDays');
    assert.deepEqual(window, {
      name: 'withinDays',
      type: 'INT',
      label: 'Within the last (days)',
      required: true,
      default: null,
      options: null,
      min: 1,
      max: 3650,
    });
    assert.ok(byCode.consent.args[0].options.includes('marketing_email'));
  });

  test('bad conditions are refused with the path, and nothing is written', async () => {
    const before = await countRows('segment');
    const cases: [unknown, string, RegExp][] = [
      [
        { all: [buyersCondition, { op: 'event_count', args: { event: 'x', count: 1, withinDays: 0 } }] },
        'condition.all[1].args.withinDays',
        /between 1 and 3650/,
      ],
      [{ any: [{ op: 'telepathy', args: {} }] }, 'condition.any[0].op', /unknown operator "telepathy"/],
      [
        { op: 'segment', args: { segment: 'nobody' } },
        'condition.args.segment',
        /no segment has the key "nobody"/,
      ],
      [
        { op: 'trait', args: { trait: 'age', comparator: 'gt', value: { years: 3 } } },
        'condition.args.value',
        /numbers or strings/,
      ],
    ];
    for (const [condition, field, message] of cases) {
      const result = await create({ key: 'bad', name: 'Bad', condition });
      assert.equal(result.__typename, 'ValidationError');
      assert.equal(result.field, field);
      assert.match(result.message, message);
    }
    const badKey = await create({ key: 'Not A Key', name: 'x', condition: buyersCondition });
    assert.equal(badKey.field, 'key');
    assert.equal(await countRows('segment'), before);
  });

  test('a segment cannot depend on itself, however indirectly', async () => {
    const a = await create({ key: 'cycle-a', name: 'A', condition: buyersCondition });
    await create({ key: 'cycle-b', name: 'B', condition: { op: 'segment', args: { segment: 'cycle-a' } } });
    const result = (
      await editor.ok(
        `mutation ($input: UpdateSegmentInput!) { updateSegment(input: $input) { __typename ... on ValidationError { field message } } }`,
        {
          input: {
            id: a.segment.id,
            condition: { all: [buyersCondition, { op: 'segment', args: { segment: 'cycle-b' } }] },
          },
        },
      )
    ).updateSegment;
    assert.equal(result.__typename, 'ValidationError');
    assert.equal(result.field, 'condition.all[1].args.segment');
    assert.match(result.message, /cycle-a → cycle-b → cycle-a/);
    const self = (
      await editor.ok(
        `mutation ($input: UpdateSegmentInput!) { updateSegment(input: $input) { __typename ... on ValidationError { field message } } }`,
        { input: { id: a.segment.id, condition: { op: 'segment', args: { segment: 'cycle-a' } } } },
      )
    ).updateSegment;
    assert.equal(self.field, 'condition.args.segment');
  });

  test('only editors define segments', async () => {
    const result = await env.adminClient
      .withToken(env.token('agent'))
      .query(CREATE, { input: { key: 'x', name: 'x', condition: buyersCondition } });
    assert.equal(result.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  });
});

describe('recompute and preview', () => {
  let loyal: string;
  let once: string;
  let stale: string;
  before(async () => {
    const orm = env.atrium.orm;
    loyal = await seedProfile(orm, demo.id, {
      anonymousId: 'rc-loyal',
      traits: { plan: 'pro' },
      events: [
        { name: 'Order Completed' },
        { name: 'Order Completed', daysAgo: 3, properties: { total: 120 } },
      ],
      emit: false,
    });
    once = await seedProfile(orm, demo.id, {
      anonymousId: 'rc-once',
      events: [{ name: 'Order Completed', properties: { total: 40 } }],
      emit: false,
    });
    stale = await seedProfile(orm, demo.id, {
      anonymousId: 'rc-stale',
      events: [
        { name: 'Order Completed', daysAgo: 40 },
        { name: 'Order Completed', daysAgo: 45 },
      ],
      emit: false,
    });
  });

  test('a preview counts and samples without writing anything', async () => {
    const count = countRows;
    await settled();
    const before = [await count('segment'), await count('segment_membership'), await count('outbox_event')];
    const data = await admin.ok(
      `query ($condition: JSON!) { segmentPreview(condition: $condition, sampleSize: 5) {
         __typename ... on SegmentPreview { count exact scannedProfiles totalProfiles sample { id } } } }`,
      {
        condition: {
          any: [
            buyersCondition,
            {
              op: 'event_property',
              args: {
                event: 'Order Completed',
                property: 'total',
                comparator: 'gt',
                value: 30,
                withinDays: 7,
              },
            },
          ],
        },
      },
    );
    const preview = data.segmentPreview;
    assert.equal(preview.count, 2);
    assert.equal(preview.exact, true);
    assert.equal(preview.scannedProfiles, preview.totalProfiles);
    assert.deepEqual(
      preview.sample.map((p: any) => p.id).sort(),
      [gid('Profile', loyal), gid('Profile', once)].sort(),
    );
    assert.deepEqual(
      [await count('segment'), await count('segment_membership'), await count('outbox_event')],
      before,
    );

    const bad = await editor.ok(
      `{ segmentPreview(condition: { op: "event_count", args: { event: "x", count: 1, withinDays: 99999 } }) {
         __typename ... on ValidationError { field } } }`,
    );
    assert.equal(bad.segmentPreview.field, 'condition.args.withinDays');
  });

  test('creating a segment computes it with progress, ends active, and emits entries', async () => {
    const created = await create({ key: 'buyers', name: 'Buyers', condition: buyersCondition });
    assert.equal(created.segment.status, 'COMPUTING');
    const done = await waitFor(
      async () => {
        const s = (await editor.ok(SEGMENT, { id: created.segment.id })).segment;
        return s.status === 'ACTIVE' ? s : null;
      },
      20000,
      'the recompute',
    );
    assert.equal(done.computedProfiles, done.totalProfiles);
    assert.ok(done.totalProfiles >= 3);
    assert.equal(done.progress, 1);
    assert.equal(done.memberCount, 1);
    assert.ok(done.lastComputedAt);
    assert.deepEqual(await membersOf('buyers'), [loyal]);
    assert.deepEqual(await outbox('segment.entered', 'buyers'), [loyal]);
    assert.ok(!(await membersOf('buyers')).includes(stale), 'orders outside the window do not count');
    assert.ok(!(await membersOf('buyers')).includes(once));

    const analyst = env.adminClient.withToken(env.token('analyst'));
    const sizes = await analyst.ok('{ segments { edges { node { key memberCount status } } } }');
    assert.ok(sizes.segments.edges.some((e: any) => e.node.key === 'buyers' && e.node.memberCount === 1));
    const members = await analyst.query(
      `query ($id: ID!) { segment(id: $id) { members { edges { node { id } } } } }`,
      {
        id: created.segment.id,
      },
    );
    assert.equal(members.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'analysts read sizes, not profiles');
    const agentView = await env.adminClient
      .withToken(env.token('agent'))
      .ok(`query ($id: ID!) { segment(id: $id) { members { edges { node { id } } } } }`, {
        id: created.segment.id,
      });
    assert.deepEqual(
      agentView.segment.members.edges.map((e: any) => e.node.id),
      [gid('Profile', loyal)],
    );
  });

  test('changing the condition recomputes the members', async () => {
    const id = (await editor.ok('{ segments { edges { node { id key } } } }')).segments.edges.find(
      (e: any) => e.node.key === 'buyers',
    ).node.id;
    const updated = await editor.ok(
      `mutation ($input: UpdateSegmentInput!) { updateSegment(input: $input) { __typename ... on UpdateSegmentPayload { segment { status } } } }`,
      { input: { id, condition: { ...buyersCondition, args: { ...buyersCondition.args, count: 1 } } } },
    );
    assert.equal(updated.updateSegment.segment.status, 'COMPUTING');
    await waitFor(
      async () => (await editor.ok(SEGMENT, { id })).segment.status === 'ACTIVE',
      20000,
      'recompute',
    );
    assert.deepEqual(await membersOf('buyers'), [loyal, once].sort());
    assert.deepEqual(await outbox('segment.entered', 'buyers'), [loyal, once]);
  });
});

describe('real-time membership', () => {
  test('an ingested event makes a profile enter; a trait change makes it exit', async () => {
    const orm = env.atrium.orm;
    await createActive({
      key: 'pro-buyers',
      name: 'Pro buyers',
      condition: {
        all: [
          { op: 'trait', args: { trait: 'plan', comparator: 'equals', value: 'pro' } },
          { op: 'event_count', args: { event: 'Checkout', count: 2, withinDays: 7 } },
        ],
      },
    });
    const anna = await seedProfile(orm, demo.id, {
      anonymousId: 'rt-anna',
      traits: { plan: 'pro' },
      events: [{ name: 'Checkout' }],
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(await membersOf('pro-buyers'), [], 'one checkout is not enough');

    await addEvents(orm, demo.id, anna, [{ name: 'Checkout' }]);
    await waitFor(async () => (await membersOf('pro-buyers')).includes(anna), 15000, 'anna to enter');
    assert.deepEqual(await outbox('segment.entered', 'pro-buyers'), [anna]);

    const profile = await env.adminClient
      .withToken(env.token('agent'))
      .ok(`query ($id: ID!) { profile(id: $id) { segments { key } } }`, { id: gid('Profile', anna) });
    assert.ok(profile.profile.segments.some((s: any) => s.key === 'pro-buyers'));

    await admin.ok(
      `mutation ($input: SetProfileTraitsInput!) { setProfileTraits(input: $input) { __typename } }`,
      { input: { profileId: gid('Profile', anna), traits: { plan: 'free' } } },
    );
    await waitFor(async () => !(await membersOf('pro-buyers')).includes(anna), 15000, 'anna to exit');
    assert.deepEqual(await outbox('segment.exited', 'pro-buyers'), [anna]);
  });

  test('consent changes and segment membership chain through dependent segments', async () => {
    const orm = env.atrium.orm;
    await createActive({
      key: 'mailable',
      name: 'Mailable',
      condition: { op: 'consent', args: { purpose: 'marketing_email', state: 'granted' } },
    });
    await createActive({
      key: 'mailable-shoppers',
      name: 'Mailable shoppers',
      condition: {
        all: [
          { op: 'segment', args: { segment: 'mailable' } },
          {
            op: 'event_property',
            args: {
              event: 'Viewed',
              property: 'product.category',
              comparator: 'contains',
              value: 'shoe',
              withinDays: 30,
            },
          },
        ],
      },
    });
    const ben = await seedProfile(orm, demo.id, {
      anonymousId: 'rt-ben',
      events: [{ name: 'Viewed', properties: { product: { category: 'Running Shoes' } } }],
    });
    await setConsent(orm, demo.id, ben, 'marketing_email', true);
    await waitFor(
      async () => (await membersOf('mailable-shoppers')).includes(ben),
      15000,
      'ben to enter both',
    );
    assert.ok((await membersOf('mailable')).includes(ben));

    await setConsent(orm, demo.id, ben, 'marketing_email', false);
    await waitFor(
      async () => !(await membersOf('mailable-shoppers')).includes(ben),
      15000,
      'ben to exit both',
    );
    assert.ok(!(await membersOf('mailable')).includes(ben));
    assert.deepEqual(await outbox('segment.exited', 'mailable-shoppers'), [ben]);

    const archived = await editor.ok(
      `mutation ($input: ArchiveSegmentInput!) { archiveSegment(input: $input) { __typename ... on ValidationError { field message } } }`,
      { input: { id: (await segmentId('mailable')) as string } },
    );
    assert.equal(archived.archiveSegment.__typename, 'ValidationError');
    assert.match(archived.archiveSegment.message, /used by segments: mailable-shoppers/);
  });

  test('a merge re-evaluates the surviving profile', async () => {
    const orm = env.atrium.orm;
    await createActive({
      key: 'triple',
      name: 'Three views',
      condition: { op: 'event_count', args: { event: 'View', count: 3, withinDays: 30 } },
    });
    const phone = await seedProfile(orm, demo.id, {
      anonymousId: 'mg-phone',
      events: [{ name: 'View' }, { name: 'View' }],
    });
    await createActive({
      key: 'laptop-users',
      name: 'On a laptop',
      condition: { op: 'trait', args: { trait: 'device', comparator: 'equals', value: 'laptop' } },
    });
    const laptop = await seedProfile(orm, demo.id, {
      anonymousId: 'mg-laptop',
      traits: { device: 'laptop' },
      events: [{ name: 'View' }],
    });
    await waitFor(async () => (await membersOf('laptop-users')).includes(laptop), 15000, 'laptop to enter');
    const merged = await admin.ok(
      `mutation ($input: MergeProfilesInput!) { mergeProfiles(input: $input) { __typename } }`,
      { input: { survivorId: gid('Profile', phone), mergedId: gid('Profile', laptop) } },
    );
    assert.equal(merged.mergeProfiles.__typename, 'MergeProfilesPayload');
    await waitFor(async () => (await membersOf('triple')).includes(phone), 15000, 'the survivor to enter');
    // The membership moved with the merge, and the survivor's entry was announced once.
    assert.ok((await membersOf('laptop-users')).includes(phone));
    assert.deepEqual(await outbox('segment.entered', 'laptop-users'), [laptop, phone]);
  });
});

async function segmentId(key: string): Promise<string | undefined> {
  const data = await editor.ok('{ segments { edges { node { id key } } } }');
  return data.segments.edges.find((e: any) => e.node.key === key)?.node.id;
}

describe('archive and isolation', () => {
  test('archiving removes members and stops evaluation', async () => {
    const orm = env.atrium.orm;
    const seg = await createActive({
      key: 'vip',
      name: 'VIP',
      condition: { op: 'trait', args: { trait: 'vip', comparator: 'equals', value: true } },
    });
    const cleo = await seedProfile(orm, demo.id, {
      anonymousId: 'ar-cleo',
      traits: { vip: true },
      events: [{ name: 'Hi' }],
    });
    await waitFor(async () => (await membersOf('vip')).includes(cleo), 15000, 'cleo to enter');
    const archived = await editor.ok(
      `mutation ($input: ArchiveSegmentInput!) { archiveSegment(input: $input) { __typename ... on ArchiveSegmentPayload { segment { status memberCount } } } }`,
      { input: { id: seg.id } },
    );
    assert.deepEqual(archived.archiveSegment.segment, { status: 'ARCHIVED', memberCount: 0 });
    await addEvents(orm, demo.id, cleo, [{ name: 'Hi' }]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(await membersOf('vip'), []);
    const listed = await editor.ok('{ segments { edges { node { key } } } }');
    assert.ok(
      !listed.segments.edges.some((e: any) => e.node.key === 'vip'),
      'archived ones are hidden by default',
    );
    const asked = await editor.ok('{ segments(status: ARCHIVED) { edges { node { key } } } }');
    assert.deepEqual(
      asked.segments.edges.map((e: any) => e.node.key),
      ['vip'],
    );
  });

  test('a segment of demo is invisible to other', async () => {
    const id = (await segmentId('buyers')) as string;
    const other = env.adminClient.withToken(env.token('admin', 'other'));
    const data = await other.ok(
      `query ($id: ID!) { segment(id: $id) { key } node(id: $id) { id } segments { edges { node { key } } } }`,
      { id },
    );
    assert.equal(data.segment, null);
    assert.equal(data.node, null);
    assert.deepEqual(data.segments.edges, []);
    const preview = await other.ok(
      '{ segmentPreview(condition: { op: "trait", args: { trait: "plan", comparator: "exists" } }) { ... on SegmentPreview { count totalProfiles } } }',
    );
    assert.deepEqual(preview.segmentPreview, { count: 0, totalProfiles: 0 });
    const reference = await other.ok(CREATE, {
      input: { key: 'sneaky', name: 'Sneaky', condition: { op: 'segment', args: { segment: 'buyers' } } },
    });
    assert.equal(
      reference.createSegment.field,
      'condition.args.segment',
      'keys of another workspace do not resolve',
    );
  });
});

describe('through the tracking API', () => {
  test('track calls over HTTP update computed traits and memberships in real time', async () => {
    const created = await admin.ok(
      'mutation { createWriteKey(input: { name: "segments" }) { ... on CreateWriteKeyPayload { key } } }',
    );
    const key = created.createWriteKey.key as string;
    await createActive({
      key: 'http-buyers',
      name: 'Bought twice over HTTP',
      condition: { op: 'event_count', args: { event: 'Order Completed', count: 2, withinDays: 1 } },
    });
    const track = (messageId: string) =>
      fetch(`${env.url}/v1/track`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`,
        },
        body: JSON.stringify({
          messageId,
          anonymousId: 'http-dora',
          event: 'Order Completed',
          properties: { total: 10 },
        }),
      });
    assert.equal((await track('http-1')).status, 200);
    assert.equal((await track('http-2')).status, 200);
    const [identity] = await sql<{ profile_id: string }>(
      env.em(),
      `select profile_id::text as profile_id from identity where value = 'http-dora'`,
    );
    const dora = identity?.profile_id as string;
    await waitFor(async () => (await membersOf('http-buyers')).includes(dora), 15000, 'dora to enter');
    assert.deepEqual(await outbox('segment.entered', 'http-buyers'), [dora]);
  });
});

describe('time windows', () => {
  test('a profile whose events age out of the window leaves the segment on the periodic recompute', async () => {
    const recent = await seedProfile(env.atrium.orm, demo.id, {
      anonymousId: 'anon-window',
      events: [{ name: 'Window Bought' }],
    });
    await createActive({
      key: 'bought-today',
      name: 'Bought today',
      condition: {
        op: 'event_count',
        args: { event: 'Window Bought', comparator: 'gte', count: 1, withinDays: 1 },
      },
    });
    assert.ok((await membersOf('bought-today')).includes(recent));

    // Time passes: nothing happens to the profile, but its only event is now two days old.
    await sql(env.em(), `update event set timestamp = now() - interval '2 days' where profile_id = $1`, [
      recent,
    ]);
    await env.atrium.jobs.send(EXPIRE_WINDOWS, {});
    await waitFor(
      async () => !(await membersOf('bought-today')).includes(recent),
      20000,
      'the profile to leave',
    );
    assert.deepEqual(await outbox('segment.exited', 'bought-today'), [recent]);
  });
});
