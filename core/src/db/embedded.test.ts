import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GraphQLClient, waitFor } from '../testing/index.ts';

const bin = new URL('../../bin/atrium.js', import.meta.url).pathname;
const probeConfig = new URL('../testing/fixtures/probe.config.ts', import.meta.url).pathname;
const cwd = mkdtempSync(join(tmpdir(), 'atrium-embedded-'));
const env = {
  ...process.env,
  DATABASE_URL: '',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  ATRIUM_CONFIG: probeConfig,
};
const running: ChildProcess[] = [];

after(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(cwd, { recursive: true, force: true });
});

/** `npx atrium start` with no DATABASE_URL, as the README's quick start runs it. */
async function startEmbedded(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bin, 'start'], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
  running.push(child);
  let out = '';
  child.stdout?.on('data', (chunk) => {
    out += chunk;
  });
  const url = await waitFor(
    () => /GraphQL at (http:\/\/\S+)\/graphql/.exec(out)?.[1],
    60000,
    'the server to start',
  );
  return { child, url };
}

function token(workspace: string): string {
  const result = spawnSync(process.execPath, [bin, 'token', '--role', 'admin', '--workspace', workspace], {
    cwd,
    env,
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'the token is printed on one line');
  return lines[0] as string;
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

test('the embedded default migrates, seeds demo, serves GraphQL and carries concurrent load and jobs', async () => {
  const { child, url } = await startEmbedded();
  assert.equal((await fetch(`${url}/readyz`)).status, 200);
  const client = new GraphQLClient(`${url}/graphql`).withToken(token('demo'));
  assert.equal((await client.ok('{ viewer { workspace { slug } } }')).viewer.workspace.slug, 'demo');

  // 50 concurrent requests, half of them writes whose events go through pg-boss to the probe.
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      i % 2
        ? client.query('{ viewer { scopes } apiKeys(first: 5) { edges { node { id } } } }')
        : client.query(`mutation { createApiKey(input: { name: "k${i}", role: VIEWER }) { __typename } }`),
    ),
  );
  assert.deepEqual(
    results.filter((r) => r.errors),
    [],
  );
  await waitFor(
    async () => {
      const data = await client.ok(
        '{ eventDeliveries(status: SUCCEEDED, first: 100) { edges { node { id } } } }',
      );
      return data.eventDeliveries.edges.length === 25;
    },
    60000,
    '25 deliveries through pg-boss on PGlite',
  );

  const unknown = await new GraphQLClient(`${url}/graphql`)
    .withToken(token('nowhere'))
    .query('{ viewer { scopes } }');
  assert.equal(unknown.status, 401);
  assert.equal(await stop(child), 0, 'SIGTERM drains and exits cleanly');
});

test('data survives a restart on the same data directory', async () => {
  const { child, url } = await startEmbedded();
  const client = new GraphQLClient(`${url}/graphql`).withToken(token('demo'));
  const data = await client.ok('{ apiKeys(first: 100) { edges { node { name } } } }');
  assert.equal(data.apiKeys.edges.length, 25);
  assert.equal(await stop(child), 0);
});
