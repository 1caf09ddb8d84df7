import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from '../../../db/sql.ts';
import { createTestEnvironment, type TestEnvironment } from '../../../testing/index.ts';

let env: TestEnvironment;
let writeKey: string;
let writeKeyId: string;

const CREATE_KEY = `mutation ($name: String!) {
  createWriteKey(input: { name: $name }) { ... on CreateWriteKeyPayload { key writeKey { id } } }
}`;

before(async () => {
  env = await createTestEnvironment();
  const created = await admin().ok(CREATE_KEY, { name: 'website' });
  writeKey = created.createWriteKey.key;
  writeKeyId = created.createWriteKey.writeKey.id;
});
after(() => env?.destroy());

const admin = () => env.adminClient.withToken(env.token('admin'));
const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${env.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(writeKey), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any>, response };
}

async function count(table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const [row] = await sql<{ n: string }>(
    env.em(),
    `select count(*) as n from ${table} where ${where}`,
    params,
  );
  return Number(row?.n);
}

async function profileOf(type: string, value: string): Promise<string | undefined> {
  const [row] = await sql<{ profile_id: string }>(
    env.em(),
    `select profile_id from identity where type = $1 and value = $2`,
    [type, value],
  );
  return row?.profile_id;
}

/** Rows in every table ingestion writes to, to prove a refused request wrote nothing. */
async function footprint() {
  return {
    event: await count('event'),
    profile: await count('profile'),
    identity: await count('identity'),
    outbox: await count('outbox_event'),
  };
}

describe('each endpoint stores its call on the right profile', () => {
  test('identify links e-mail and user id to the visitor and merges traits', async () => {
    const identify = await post('/v1/identify', {
      anonymousId: 'anon-1',
      userId: 'user-1',
      traits: { email: 'Anna@Example.com', name: 'Anna', plan: 'free' },
    });
    assert.deepEqual(identify.body, { success: true });
    const profileId = await profileOf('anonymous_id', 'anon-1');
    assert.ok(profileId);
    assert.equal(await profileOf('user_id', 'user-1'), profileId);
    assert.equal(await profileOf('email', 'anna@example.com'), profileId);

    await post('/v1/i', { userId: 'user-1', traits: { plan: 'pro', name: null } });
    const [profile] = await sql<{ traits: Record<string, unknown> }>(
      env.em(),
      'select traits from profile where id = $1',
      [profileId],
    );
    assert.deepEqual(profile?.traits, { email: 'Anna@Example.com', plan: 'pro' }, 'null removes a trait');
    const changes = await sql<{ payload: { changed: string[] } }>(
      env.em(),
      `select payload from outbox_event where type = 'profile.traits-changed' and subject = $1 order by occurred_at`,
      [profileId],
    );
    assert.deepEqual(
      changes.map((c) => c.payload.changed.sort()),
      [
        ['email', 'name', 'plan'],
        ['name', 'plan'],
      ],
    );
  });

  test('track, page, screen, group and alias, under their names and one-letter paths', async () => {
    for (const [path, body] of [
      ['/v1/track', { userId: 'user-1', event: 'Order Completed', properties: { total: 42 } }],
      ['/v1/t', { userId: 'user-1', event: 'Cart Viewed' }],
      ['/v1/page', { anonymousId: 'anon-1', name: 'Home', properties: { url: 'https://shop.example/' } }],
      ['/v1/p', { anonymousId: 'anon-1' }],
      ['/v1/screen', { userId: 'user-1', name: 'Settings' }],
      ['/v1/group', { userId: 'user-1', groupId: 'acme', traits: { employees: 40 } }],
      ['/v1/alias', { previousId: 'anon-1b', userId: 'user-1' }],
    ] as const) {
      const answer = await post(path, body);
      assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
    }
    const profileId = await profileOf('user_id', 'user-1');
    const events = await sql<{ type: string; name: string | null; properties: Record<string, unknown> }>(
      env.em(),
      `select type, name, properties from event where profile_id = $1 and type <> 'identify' order by received_at, id`,
      [profileId],
    );
    assert.deepEqual(
      events.map((e) => `${e.type}:${e.name}`).sort(),
      [
        'alias:null',
        'group:acme',
        'page:Home',
        'page:null',
        'screen:Settings',
        'track:Cart Viewed',
        'track:Order Completed',
      ].sort(),
    );
    assert.equal(await profileOf('anonymous_id', 'anon-1b'), profileId, 'alias linked the previous id');
  });

  test('a batch mixes types, takes context.traits identities, and corrects client clock skew', async () => {
    const sentAt = '2030-01-01T00:00:10.000Z';
    const answer = await post('/v1/batch', {
      sentAt,
      batch: [
        {
          type: 'track',
          event: 'Signed Up',
          anonymousId: 'anon-2',
          messageId: 'skewed-1',
          timestamp: '2030-01-01T00:00:00.000Z',
          context: { traits: { phone: '+41 79 123 45 67' } },
        },
        { type: 'identify', anonymousId: 'anon-2', traits: { email: 'ben@example.com' } },
        { type: 'page', anonymousId: 'anon-2', name: 'Pricing' },
      ],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const profileId = await profileOf('anonymous_id', 'anon-2');
    assert.equal(await profileOf('phone', '+41791234567'), profileId);
    assert.equal(await profileOf('email', 'ben@example.com'), profileId);
    assert.equal(await count('event', 'profile_id = $1', [profileId]), 3);
    const [skewed] = await sql<{ original: string; lag: string }>(
      env.em(),
      `select original_timestamp::text as original, extract(epoch from received_at - timestamp)::text as lag
       from event where message_id = 'skewed-1'`,
    );
    assert.equal(skewed?.original, '2030-01-01 00:00:00+00');
    // The call happened 10 s before it was sent, so 10 s before it was received by our clock.
    assert.equal(Number(skewed?.lag), 10);
  });

  test('one events-ingested domain event per request names the profiles and events', async () => {
    await post('/v1/batch', {
      batch: [
        { type: 'track', event: 'Product Viewed', userId: 'user-3' },
        { type: 'track', event: 'Product Viewed', userId: 'user-4' },
        { type: 'track', event: 'Order Completed', userId: 'user-3', messageId: 'order-3' },
      ],
    });
    const [row] = await sql<{ payload: Record<string, any> }>(
      env.em(),
      `select payload from outbox_event where type = 'profile.events-ingested' and payload->'eventIds' @> (select to_jsonb(id::text) from event where message_id = 'order-3')`,
    );
    assert.ok(row, 'the request recorded one profile.events-ingested');
    const { payload } = row;
    assert.deepEqual(
      new Set(payload.profileIds),
      new Set([await profileOf('user_id', 'user-3'), await profileOf('user_id', 'user-4')]),
    );
    assert.equal(payload.eventCount, 3);
    assert.deepEqual(payload.eventTypes, ['track']);
    assert.deepEqual(payload.eventNames.sort(), ['Order Completed', 'Product Viewed']);
    assert.equal(payload.eventIds.length, 3);
    assert.equal(payload.eventIdsTruncated, false);
  });
});

describe('bad input gets a clear answer and writes nothing', () => {
  const big = 'x'.repeat(33 * 1024);
  const cases: { name: string; path: string; body: unknown; status: number; code: string; error: RegExp }[] =
    [
      {
        name: 'malformed JSON',
        path: '/v1/track',
        body: '{"userId": "u", "event": ',
        status: 400,
        code: 'MALFORMED_JSON',
        error: /not valid JSON/,
      },
      {
        name: 'a body that is not an object',
        path: '/v1/track',
        body: '[1, 2]',
        status: 400,
        code: 'VALIDATION_FAILED',
        error: /the request body must be a JSON object/,
      },
      {
        name: 'a call over 32 KB',
        path: '/v1/track',
        body: { userId: 'u-big', event: 'Big', properties: { big } },
        status: 400,
        code: 'TOO_LARGE',
        error: /larger than 32 KB/,
      },
      {
        name: 'a batch over 500 KB',
        path: '/v1/batch',
        body: {
          batch: Array.from({ length: 20 }, (_, i) => ({
            type: 'track',
            userId: `u-big-${i}`,
            event: 'Big',
            properties: { big: 'y'.repeat(30 * 1024) },
          })),
        },
        status: 400,
        code: 'TOO_LARGE',
        error: /larger than 500 KB/,
      },
      {
        name: 'one call in a batch over 32 KB',
        path: '/v1/batch',
        body: {
          batch: [
            { type: 'track', userId: 'u-ok', event: 'Fine' },
            { type: 'track', userId: 'u-big', event: 'Big', properties: { big } },
          ],
        },
        status: 400,
        code: 'VALIDATION_FAILED',
        error: /^batch\[1\] is larger than 32 KB$/,
      },
      {
        name: 'neither userId nor anonymousId',
        path: '/v1/track',
        body: { event: 'Nobody' },
        status: 400,
        code: 'VALIDATION_FAILED',
        error: /^userId or anonymousId is required$/,
      },
      {
        name: 'a track without an event name, deep in a batch',
        path: '/v1/batch',
        body: {
          batch: [
            { type: 'track', userId: 'u-5', event: 'Fine' },
            { type: 'identify', userId: 'u-5', traits: { plan: 'x' } },
            { type: 'page', userId: 'u-5' },
            { type: 'track', userId: 'u-5' },
          ],
        },
        status: 400,
        code: 'VALIDATION_FAILED',
        error: /^batch\[3\]\.event is required$/,
      },
      {
        name: 'a bad e-mail in identify traits',
        path: '/v1/batch',
        body: {
          batch: [
            { type: 'track', anonymousId: 'anon-bad', event: 'Fine' },
            { type: 'identify', anonymousId: 'anon-bad', traits: { email: 'not-an-email' } },
          ],
        },
        status: 400,
        code: 'VALIDATION_FAILED',
        error: /^batch\[1\]\.traits\.email is not an e-mail address$/,
      },
      {
        name: 'an unknown call type',
        path: '/v1/batch',
        body: { batch: [{ type: 'purchase', userId: 'u-6' }] },
        status: 400,
        code: 'VALIDATION_FAILED',
        error: /^batch\[0\]\.type must be one of/,
      },
      {
        name: 'a timestamp that is not a date',
        path: '/v1/track',
        body: { userId: 'u-7', event: 'Late', timestamp: 'yesterday' },
        status: 400,
        code: 'VALIDATION_FAILED',
        error: /^timestamp must be an ISO 8601 date-time$/,
      },
      {
        name: 'properties that are not an object',
        path: '/v1/track',
        body: { userId: 'u-8', event: 'Odd', properties: 'x' },
        status: 400,
        code: 'VALIDATION_FAILED',
        error: /^properties must be a JSON object$/,
      },
      {
        name: 'alias without previousId',
        path: '/v1/alias',
        body: { userId: 'u-9' },
        status: 400,
        code: 'VALIDATION_FAILED',
        error: /^previousId is required$/,
      },
      {
        name: 'a NUL character PostgreSQL cannot store',
        path: '/v1/track',
        body: { userId: 'u-10', event: 'Nul', properties: { note: 'a\u0000b' } },
        status: 400,
        code: 'VALIDATION_FAILED',
        error: /\\u0000/,
      },
    ];

  for (const c of cases) {
    test(c.name, async () => {
      const before = await footprint();
      const answer = await post(c.path, c.body);
      assert.equal(answer.status, c.status, JSON.stringify(answer.body));
      assert.equal(answer.body.code, c.code);
      assert.match(answer.body.error, c.error);
      assert.deepEqual(await footprint(), before);
    });
  }

  test('a trait that breaks the trait schema names the trait', async () => {
    await admin().ok('mutation { defineTrait(input: { key: "age", kind: NUMBER }) { __typename } }');
    const before = await footprint();
    const answer = await post('/v1/batch', {
      batch: [
        { type: 'identify', userId: 'u-11', traits: { age: 40 } },
        { type: 'identify', userId: 'u-12', traits: { age: 'forty' } },
      ],
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'batch[1].traits.age must be a number');
    assert.equal(answer.body.field, 'batch[1].traits.age');
    assert.deepEqual(await footprint(), before);
  });

  test('no key, an unknown key and a revoked key are refused with 401 and say why', async () => {
    const before = await footprint();
    const call = { userId: 'u-auth', event: 'Denied' };
    const none = await post('/v1/track', call, { authorization: '' });
    assert.equal(none.status, 401);
    assert.match(none.body.error, /write key is required/);
    assert.equal(none.response.headers.get('www-authenticate'), 'Basic realm="Atrium tracking API"');

    const unknown = await post('/v1/track', call, { authorization: basic('awk_nope_nope') });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.error, 'unknown write key');

    const created = await admin().ok(CREATE_KEY, { name: 'doomed' });
    const doomed = created.createWriteKey.key;
    assert.equal(
      (await post('/v1/track', { ...call, userId: 'u-doomed' }, { authorization: basic(doomed) })).status,
      200,
    );
    await admin().ok('mutation ($id: ID!) { revokeWriteKey(input: { id: $id }) { __typename } }', {
      id: created.createWriteKey.writeKey.id,
    });
    const afterRevoke = await footprint();
    const revoked = await post('/v1/track', call, { authorization: basic(doomed) });
    assert.equal(revoked.status, 401);
    assert.deepEqual(revoked.body, {
      success: false,
      error: 'this write key was revoked',
      code: 'UNAUTHENTICATED',
    });
    assert.deepEqual(await footprint(), afterRevoke);
    assert.equal(afterRevoke.event, before.event + 1, 'only the call sent before the revocation');
  });
});

test('browsers may call the API: CORS preflight and a batch-wide context', async () => {
  const preflight = await fetch(`${env.url}/v1/batch`, {
    method: 'OPTIONS',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);

  const answer = await post('/v1/batch', {
    context: { library: { name: 'analytics.js' }, locale: 'de-CH' },
    batch: [{ type: 'track', anonymousId: 'anon-cors', event: 'Seen', context: { locale: 'fr-CH' } }],
  });
  assert.equal(answer.response.headers.get('access-control-allow-origin'), '*');
  const [row] = await sql<{ context: Record<string, unknown> }>(
    env.em(),
    `select context from event where anonymous_id = 'anon-cors'`,
  );
  assert.deepEqual(row?.context, { library: { name: 'analytics.js' }, locale: 'fr-CH' });
});

test('a duplicate messageId is stored once, within a request and across requests', async () => {
  const call = { type: 'track', userId: 'u-dup', event: 'Paid', messageId: 'dup-1' };
  assert.equal((await post('/v1/batch', { batch: [call, { ...call, event: 'Paid again' }] })).status, 200);
  const retry = await post('/v1/track', call);
  assert.deepEqual(retry.body, { success: true }, 'a retry is acknowledged');
  const rows = await sql<{ name: string }>(env.em(), `select name from event where message_id = 'dup-1'`);
  assert.deepEqual(rows, [{ name: 'Paid' }]);
});

test('alias merges the profiles of the previous id and the user id', async () => {
  await post('/v1/identify', { anonymousId: 'anon-m', traits: { email: 'mia@example.com', city: 'Bern' } });
  await post('/v1/track', { userId: 'user-m', event: 'Logged In' });
  const visitor = await profileOf('anonymous_id', 'anon-m');
  const member = await profileOf('user_id', 'user-m');
  assert.notEqual(visitor, member);

  assert.equal((await post('/v1/alias', { previousId: 'anon-m', userId: 'user-m' })).status, 200);
  assert.equal(await profileOf('anonymous_id', 'anon-m'), member, 'the user id profile survives');
  assert.equal(await profileOf('email', 'mia@example.com'), member);
  assert.equal(await count('profile', 'id = $1', [visitor]), 0);
  assert.equal(await count('event', 'profile_id = $1', [member]), 3);
  const [merge] = await sql<{ reason: string }>(
    env.em(),
    'select reason from profile_merge where merged_profile_id = $1',
    [visitor],
  );
  assert.match(
    merge?.reason ?? '',
    /merged because message \S+ \(alias\) carried user_id .* and anonymous_id .*, which belonged to two profiles/,
  );
});

test('concurrent first calls of one new visitor make one profile', async () => {
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) => post('/v1/track', { anonymousId: 'anon-race', event: `Tap ${i}` })),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(8).fill(200),
  );
  assert.equal(await count('identity', `type = 'anonymous_id' and value = 'anon-race'`), 1);
  const profileId = await profileOf('anonymous_id', 'anon-race');
  assert.equal(await count('event', 'profile_id = $1', [profileId]), 8);
});

test('requests written together still fail alone: only the bad one is refused', async () => {
  await admin().ok('mutation { defineTrait(input: { key: "score", kind: NUMBER }) { __typename } }');
  const answers = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      post('/v1/batch', {
        batch: [
          { type: 'track', userId: `u-group-${i}`, event: 'Grouped', messageId: `grouped-${i}` },
          { type: 'identify', userId: `u-group-${i}`, traits: { score: i === 3 ? 'high' : i } },
        ],
      }),
    ),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, 400, 200, 200],
  );
  assert.equal(answers[3]?.body.error, 'batch[1].traits.score must be a number');
  assert.equal(await count('event', `message_id like 'grouped-%'`), 5);
  assert.equal(await count('event', `message_id = 'grouped-3'`), 0);
});

test("a profile's timeline in GraphQL shows what was ingested, newest first", async () => {
  await post('/v1/batch', {
    batch: [
      { type: 'track', userId: 'user-t', event: 'First', timestamp: '2031-01-01T00:00:00Z' },
      { type: 'track', userId: 'user-t', event: 'Second', timestamp: '2031-01-02T00:00:00Z' },
    ],
  });
  const found = await admin().ok(
    '{ profiles(filter: { identity: { type: USER_ID, value: "user-t" } }) { edges { node { id } } } }',
  );
  const id = found.profiles.edges[0].node.id;
  const data = await admin().ok(
    'query ($id: ID!) { profile(id: $id) { timeline { edges { node { name type } } } } }',
    { id },
  );
  assert.deepEqual(
    data.profile.timeline.edges.map((e: { node: { name: string } }) => e.node.name),
    ['Second', 'First'],
  );
});

test('the write key the tests use is still valid and listed', async () => {
  const data = await admin().ok('{ writeKeys { edges { node { id name revokedAt } } } }');
  const listed = data.writeKeys.edges.map((e: { node: { id: string } }) => e.node.id);
  assert.ok(listed.includes(writeKeyId));
});
