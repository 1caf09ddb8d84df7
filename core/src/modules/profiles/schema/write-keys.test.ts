import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { sql } from '../../../db/sql.ts';
import { createTestEnvironment, type TestEnvironment } from '../../../testing/index.ts';

const bin = new URL('../../../../bin/atrium.js', import.meta.url).pathname;

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment();
});
after(() => env?.destroy());

const track = (key: string) =>
  fetch(`${env.url}/v1/track`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
    body: JSON.stringify({ userId: 'u-1', event: 'Key Tried' }),
  });

test('admins create, list and revoke write keys; the key is shown once and only its hash is kept', async () => {
  const admin = env.adminClient.withToken(env.token('admin'));
  const created = await admin.ok(
    'mutation { createWriteKey(input: { name: " shop " }) { ... on CreateWriteKeyPayload { key writeKey { id name prefix revokedAt } } } }',
  );
  const { key, writeKey } = created.createWriteKey;
  assert.match(key, /^awk_[\w-]{8}_[\w-]{32}$/);
  assert.equal(writeKey.name, 'shop');
  assert.ok(key.startsWith(`awk_${writeKey.prefix}_`));
  const rows = await sql<{ key_hash: string }>(env.em(), 'select key_hash from write_key');
  assert.deepEqual(rows, [{ key_hash: createHash('sha256').update(key).digest('hex') }]);
  assert.equal((await track(key)).status, 200);

  const listed = await admin.ok('{ writeKeys { edges { node { id name prefix } } } }');
  assert.deepEqual(
    listed.writeKeys.edges.map((e: { node: { name: string } }) => e.node.name),
    ['shop'],
  );
  assert.equal(JSON.stringify(listed).includes(key), false, 'lists never show the key');

  const revoked = await admin.ok(
    'mutation ($id: ID!) { revokeWriteKey(input: { id: $id }) { ... on RevokeWriteKeyPayload { writeKey { revokedAt } } } }',
    { id: writeKey.id },
  );
  assert.ok(revoked.revokeWriteKey.writeKey.revokedAt);
  assert.equal((await track(key)).status, 401);
});

test('bad names are refused as a typed error; other roles and workspaces cannot manage keys', async () => {
  const admin = env.adminClient.withToken(env.token('admin'));
  const bad = await admin.ok(
    'mutation { createWriteKey(input: { name: "  " }) { __typename ... on ValidationError { field } } }',
  );
  assert.deepEqual(bad.createWriteKey, { __typename: 'ValidationError', field: 'name' });

  const editor = await env.adminClient
    .withToken(env.token('editor'))
    .query('mutation { createWriteKey(input: { name: "x" }) { __typename } }');
  assert.equal(editor.errors?.[0]?.extensions?.code, 'FORBIDDEN');

  const other = await env.adminClient
    .withToken(env.token('admin', 'other'))
    .ok('{ writeKeys { edges { node { name } } } }');
  assert.deepEqual(other.writeKeys.edges, [], "another workspace's keys are not visible");
});

test('`atrium seed --demo` prints a usable WRITE_KEY, a new one on every run', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'atrium-seed-'));
  try {
    const seed = async () => {
      const { stdout } = await promisify(execFile)(process.execPath, [bin, 'seed', '--demo'], {
        cwd,
        env: { ...process.env, DATABASE_URL: env.databaseUrl, ATRIUM_DATA_DIR: cwd, LOG_LEVEL: 'silent' },
      });
      const key = /^WRITE_KEY=(\S+)$/m.exec(stdout)?.[1];
      assert.ok(key, `no WRITE_KEY in: ${stdout}`);
      return key;
    };
    const first = await seed();
    const second = await seed();
    assert.notEqual(first, second);
    assert.equal((await track(first)).status, 200);
    assert.equal((await track(second)).status, 200);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
