import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { definePlugin } from '../kernel/plugin.ts';
import { probeControl, probePlugin } from '../testing/fixtures/probe-plugin.ts';
import { createTestEnvironment, type TestEnvironment } from '../testing/index.ts';

/** A plugin whose service is down, to see /readyz say so. */
let serviceUp = true;
const flakyService = definePlugin(() => ({
  name: 'flaky-service',
  compatibility: '^1.0.0',
  healthChecks: {
    upstream: async () => {
      if (!serviceUp) throw new Error('upstream refused the connection');
    },
  },
}));

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment({
    plugins: [flakyService(), probePlugin({})],
    settings: { GRAPHQL_MAX_DEPTH: '3', GRAPHQL_MAX_BREADTH: '30' },
  });
});
after(() => env?.destroy());

test('/healthz answers while the process lives; /readyz checks the database, jobs and services', async () => {
  assert.equal((await fetch(`${env.url}/healthz`)).status, 200);
  const ready = await fetch(`${env.url}/readyz`);
  assert.equal(ready.status, 200);
  const body = await ready.json();
  assert.deepEqual(Object.keys(body.checks).sort(), ['database', 'flaky-service.upstream', 'jobs']);

  serviceUp = false;
  const notReady = await fetch(`${env.url}/readyz`);
  assert.equal(notReady.status, 503);
  const failed = await notReady.json();
  assert.equal(failed.checks['flaky-service.upstream'].status, 'failed');
  assert.match(failed.checks['flaky-service.upstream'].error, /refused/);
  assert.equal(failed.checks.database.status, 'ok');
  serviceUp = true;
});

test('/metrics speaks the Prometheus text format, labelled by route', async () => {
  await fetch(`${env.url}/healthz`);
  const response = await fetch(`${env.url}/metrics`);
  assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
  const text = await response.text();
  assert.match(text, /# TYPE atrium_http_requests_total counter/);
  assert.match(text, /atrium_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
  assert.match(text, /atrium_process_cpu_seconds_total/);
});

test('request ids: a sane one is echoed, otherwise one is made', async () => {
  const given = await fetch(`${env.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
  assert.equal(given.headers.get('x-request-id'), 'abc-123');
  const made = await fetch(`${env.url}/healthz`, { headers: { 'x-request-id': 'bad id\twith spaces' } });
  assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
});

test('GraphiQL is served outside production', async () => {
  const page = await fetch(`${env.url}/graphql`, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /graphiql/i);
});

test('queries deeper or broader than the limits are refused before they run', async () => {
  const client = env.adminClient.withToken(env.token('admin'));
  assert.equal((await client.query('{ viewer { workspace { slug } } }')).errors, undefined);
  const deep = await client.query('{ apiKeys { edges { node { id } } } }');
  assert.equal(deep.errors?.[0]?.extensions?.code, 'QUERY_TOO_COMPLEX');
  assert.match(deep.errors?.[0]?.message ?? '', /depth is 4, the limit is 3/);
  assert.equal(deep.data ?? null, null);
  const aliases = Array.from({ length: 40 }, (_, i) => `s${i}: subject`).join(' ');
  const broad = await client.query(`{ viewer { ${aliases} } }`);
  assert.match(broad.errors?.[0]?.message ?? '', /breadth is \d+, the limit is 30/);
});

test('stopping drains a request in flight and refuses new ones', async () => {
  const local = await createTestEnvironment({ plugins: [probePlugin({})] });
  const inFlight = fetch(`${local.url}/plugins/probe/slow?ms=700`);
  await new Promise((resolve) => setTimeout(resolve, 150));
  const destroyedBefore = probeControl.destroyCalls;
  const stopping = local.destroy();
  const response = await inFlight;
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { done: true });
  await stopping;
  await assert.rejects(fetch(`${local.url}/healthz`));
  assert.equal(probeControl.destroyCalls, destroyedBefore + 1, "the plugin's onDestroy ran");
});
