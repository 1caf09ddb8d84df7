import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSettings } from './config.ts';
import { ConfigError } from './errors.ts';

const bin = new URL('../../bin/atrium.js', import.meta.url).pathname;

function rejects(env: Record<string, string>, setting: string, message: RegExp) {
  assert.throws(
    () => parseSettings(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
      assert.equal(error.setting, setting);
      assert.match(error.message, message);
      return true;
    },
  );
}

test('defaults make a development server on the embedded database', () => {
  const s = parseSettings({});
  assert.equal(s.PORT, 4000);
  assert.equal(s.NODE_ENV, 'development');
  assert.equal(s.DATABASE_URL, undefined);
  assert.equal(s.AUTH_DEV_TOKENS, true);
});

test('a bad value names the setting and what was given', () => {
  rejects({ PORT: 'abc' }, 'PORT', /PORT.*"abc"/);
  rejects({ NODE_ENV: 'staging' }, 'NODE_ENV', /NODE_ENV/);
  rejects({ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', /DATABASE_URL/);
  rejects({ GRAPHQL_MAX_DEPTH: '1' }, 'GRAPHQL_MAX_DEPTH', /GRAPHQL_MAX_DEPTH/);
});

test('a secret in a bad URL is not echoed', () => {
  assert.throws(
    () => parseSettings({ DATABASE_URL: 'not a url with password hunter2' }),
    (error: Error) => {
      assert.ok(!error.message.includes('hunter2'));
      return true;
    },
  );
});

test('production refuses dev tokens and requires an identity provider', () => {
  rejects(
    {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://db/atrium',
      AUTH_DEV_TOKENS: 'true',
      AUTH_ISSUER_URL: 'https://sso/realms/a',
      AUTH_AUDIENCE: 'atrium',
    },
    'AUTH_DEV_TOKENS',
    /refused/,
  );
  rejects({ NODE_ENV: 'production' }, 'DATABASE_URL', /embedded database is for development/);
  rejects({ NODE_ENV: 'production', DATABASE_URL: 'postgresql://db/atrium' }, 'AUTH_ISSUER_URL', /required/);
  rejects({ AUTH_ISSUER_URL: 'https://sso/realms/a' }, 'AUTH_AUDIENCE', /required/);
  const s = parseSettings({
    NODE_ENV: 'production',
    DATABASE_URL: 'postgresql://db/atrium',
    AUTH_ISSUER_URL: 'https://sso/realms/a',
    AUTH_AUDIENCE: 'atrium',
  });
  assert.equal(s.AUTH_DEV_TOKENS, false);
});

test('the environment wins over atrium.config.ts settings', () => {
  assert.equal(parseSettings({ PORT: '5000' }, { PORT: 6000 }).PORT, 5000);
  assert.equal(parseSettings({}, { PORT: 6000 }).PORT, 6000);
});

test('`atrium start` with a bad setting stops with one clear line', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'atrium-cfg-'));
  const result = spawnSync(process.execPath, [bin, 'start'], {
    cwd,
    env: { ...process.env, PORT: 'not-a-port', DATABASE_URL: '' },
    encoding: 'utf8',
    timeout: 30000,
  });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /^atrium: Invalid configuration: PORT: .*"not-a-port"/m);
  assert.equal(result.stderr.trim().split('\n').length, 1, `expected one line, got:\n${result.stderr}`);
});

test('`atrium token` is refused in production', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'atrium-cfg-'));
  const result = spawnSync(process.execPath, [bin, 'token', '--role', 'admin', '--workspace', 'demo'], {
    cwd,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://db/atrium',
      AUTH_ISSUER_URL: 'https://sso/realms/a',
      AUTH_AUDIENCE: 'atrium',
    },
    encoding: 'utf8',
  });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /dev tokens are disabled/);
  assert.equal(result.stdout, '');
});
