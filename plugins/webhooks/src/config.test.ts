import assert from 'node:assert/strict';
import { test } from 'node:test';
import { webhooksConfig } from './config.ts';

test('options default to 8 attempts from 5 s with a 10 s timeout', () => {
  assert.deepEqual(webhooksConfig.parse({}), {
    maxAttempts: 8,
    retryDelaySeconds: 5,
    timeoutMs: 10_000,
    allowPrivateNetworks: true,
  });
});

test('out-of-range options are refused, naming the option', () => {
  for (const [options, path] of [
    [{ maxAttempts: 0 }, 'maxAttempts'],
    [{ maxAttempts: 21 }, 'maxAttempts'],
    [{ retryDelaySeconds: 0.5 }, 'retryDelaySeconds'],
    [{ timeoutMs: 'soon' }, 'timeoutMs'],
  ] as const) {
    const parsed = webhooksConfig.safeParse(options);
    assert.equal(parsed.success, false);
    assert.equal(parsed.error?.issues[0]?.path[0], path);
  }
});
