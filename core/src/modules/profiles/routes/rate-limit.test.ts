import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RateLimiter } from '../../../http/rate-limit.ts';
import { createTestEnvironment, type TestEnvironment } from '../../../testing/index.ts';

test('the bucket allows a second of burst, then refills at the rate, per key', () => {
  const limiter = new RateLimiter(2);
  assert.equal(limiter.take('a', 0), 0);
  assert.equal(limiter.take('a', 0), 0);
  assert.equal(limiter.take('a', 0), 0.5, 'empty: one token comes in half a second');
  assert.equal(limiter.take('b', 0), 0, 'another key has its own bucket');
  assert.equal(limiter.take('a', 600), 0, 'refilled after the wait');
});

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment({
    settings: { INGEST_RATE_PER_SECOND: '2', INGEST_RATE_PER_ADDRESS_PER_SECOND: '4' },
  });
});
after(() => env?.destroy());

test('a write key over its rate gets 429 with Retry-After, and nothing is stored', async () => {
  const created = await env.adminClient
    .withToken(env.token('admin'))
    .ok('mutation { createWriteKey(input: { name: "busy" }) { ... on CreateWriteKeyPayload { key } } }');
  const send = (i: number) =>
    fetch(`${env.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${created.createWriteKey.key}:`).toString('base64')}` },
      body: JSON.stringify({ userId: 'u-busy', event: `Tap ${i}`, messageId: `tap-${i}` }),
    });
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await send(i));
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 429],
  );
  const limited = answers[2] as Response;
  assert.equal(limited.headers.get('retry-after'), '1');
  assert.equal(((await limited.json()) as { code: string }).code, 'RATE_LIMITED');
  const [row] = await env.em().getConnection().execute(`select count(*)::int as n from event`);
  assert.equal(row?.n, 2);
});

test('one address is limited before its write key is looked up: guessing keys gets 429', async () => {
  const guess = (i: number, address: string) =>
    fetch(`${env.url}/v1/track`, {
      method: 'POST',
      headers: {
        'x-forwarded-for': address,
        authorization: `Basic ${Buffer.from(`wk_guess_${i}:`).toString('base64')}`,
      },
      body: JSON.stringify({ userId: 'u-guess', event: 'Tap' }),
    });
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => guess(i, '203.0.113.60')));
  const statuses = answers.map((a) => a.status);
  // 4 a second and a burst of 4: most of 40 at once are refused before any key is looked up.
  assert.ok(statuses.filter((s) => s === 429).length >= 20, statuses.join(','));
  assert.ok(
    statuses.every((s) => s === 429 || s === 401),
    'the rest are refused for their unknown key',
  );
  const limited = answers.find((a) => a.status === 429) as Response;
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assert.equal(((await limited.json()) as { code: string }).code, 'RATE_LIMITED');
  assert.equal((await guess(99, '203.0.113.61')).status, 401, 'another address is not slowed');
});
