import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../testing/index.ts';
import { RateLimiter } from './rate-limit.ts';

test('peek looks at a bucket without taking from it', () => {
  const limiter = new RateLimiter(1);
  assert.equal(limiter.peek('a', 0), 0, 'a new key has a full bucket');
  assert.equal(limiter.take('a', 0), 0);
  assert.equal(limiter.peek('a', 0), 1, 'empty: the next token comes in a second');
  assert.equal(limiter.peek('a', 0), 1, 'peeking took nothing');
  assert.equal(limiter.peek('a', 1000), 0);
});

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment({ settings: { ADMIN_GRAPHQL_RATE_PER_SECOND: '2' } });
});
after(() => env?.destroy());

function adminCall(address: string, headers: Record<string, string>) {
  return fetch(`${env.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...headers },
    body: JSON.stringify({ query: '{ viewer { kind } }' }),
  });
}

describe('rate limit on the Admin graph', () => {
  test('a burst with one credential gets 429 with Retry-After; another credential from the same address is not slowed', async () => {
    const busy = { authorization: `Bearer ${env.token('admin')}` };
    const answers = await Promise.all(Array.from({ length: 40 }, () => adminCall('198.51.100.1', busy)));
    const limited = answers.filter((r) => r.status === 429);
    // 2 a second and a burst of 2: most of 40 at once are refused, however slow the machine is.
    assert.ok(limited.length >= 20, `${limited.length} of 40 limited`);
    assert.ok(Number(limited[0]?.headers.get('retry-after')) >= 1);
    const body = (await limited[0]?.json()) as {
      errors: { message: string; extensions: { code: string } }[];
    };
    assert.equal(body.errors[0]?.extensions.code, 'RATE_LIMITED');
    assert.match(body.errors[0]?.message ?? '', /this credential/);
    const calm = await adminCall('198.51.100.1', { authorization: `Bearer ${env.token('viewer')}` });
    assert.equal(calm.status, 200);
  });

  test('refused credentials count against the address: guessing keys from one address is slowed', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const guess = await adminCall('203.0.113.9', { 'x-api-key': `atk_guess_${i}` });
      statuses.push(guess.status);
    }
    assert.deepEqual(statuses.slice(0, 2), [401, 401]);
    // Sequential guesses refill the bucket a little (2 a second): most of the rest still wait.
    assert.ok(statuses.slice(2).filter((s) => s === 429).length >= 6, statuses.join(','));
    const fromElsewhere = await adminCall('203.0.113.10', { 'x-api-key': 'atk_guess_elsewhere' });
    assert.equal(fromElsewhere.status, 401, 'another address is not slowed');
  });

  test('anonymous requests count against their address', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, () => adminCall('192.0.2.77', {})));
    assert.ok(answers.filter((r) => r.status === 429).length >= 20);
  });
});
