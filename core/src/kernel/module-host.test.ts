import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { coreModules } from '../modules/index.ts';
import { probeControl, probePlugin } from '../testing/fixtures/probe-plugin.ts';
import { createTestEnvironment, type TestEnvironment, waitFor } from '../testing/index.ts';
import { PluginError } from './errors.ts';
import { loadModules } from './module-host.ts';
import { definePlugin } from './plugin.ts';

const plain = (name: string, compatibility = '^1.0.0') => definePlugin(() => ({ name, compatibility }))();

function refuses(plugins: Parameters<typeof loadModules>[1], message: RegExp) {
  assert.throws(
    () => loadModules(coreModules, plugins),
    (error: unknown) => error instanceof PluginError && message.test(error.message),
  );
}

test('an incompatible plugin is refused with the range it needs', () => {
  refuses([plain('old-plugin', '^0.9.0')], /old-plugin.*needs @atrium\/core \^0\.9\.0 but this is 1\./);
  refuses([plain('bad-range', 'whenever')], /bad-range.*compatibility must be a semver range/);
});

test('a misconfigured plugin names the option', () => {
  refuses([probePlugin({ greeting: '' })], /Plugin "probe": is misconfigured: greeting: /);
});

test('duplicates and bad names are refused', () => {
  refuses([plain('twice'), plain('twice')], /twice.*listed twice/);
  refuses([plain('outbox')], /clashes with a core module/);
  refuses([plain('Bad Name')], /lower-case/);
  refuses([{ definition: undefined, options: {} } as never], /is not a plugin/);
});

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment({ plugins: [probePlugin({ greeting: 'grüezi' })] });
});
after(() => env?.destroy());

test('a plugin adds GraphQL fields through the refs, with its validated config', async () => {
  const data = await env.adminClient.withToken(env.token('viewer')).ok('{ viewer { probeGreeting } }');
  assert.equal(data.viewer.probeGreeting, 'grüezi');
  const publicData = await env.publicClient.withToken(env.token('viewer')).ok('{ viewer { probeGreeting } }');
  assert.equal(publicData.viewer.probeGreeting, 'grüezi');
});

test('plugin routes are mounted under /plugins/<name> and its jobs run', async () => {
  const ping = await fetch(`${env.url}/plugins/probe/ping`);
  assert.equal(ping.status, 200);
  assert.deepEqual(await ping.json(), { pong: 'grüezi' });
  const echo = await fetch(`${env.url}/plugins/probe/echo?text=ciao`, { method: 'POST' });
  assert.equal(echo.status, 202);
  await waitFor(() => probeControl.jobRuns.includes('ciao'), 10000, 'the probe.echo job');
});

test('onInit ran once at boot', () => {
  assert.equal(probeControl.initCalls, 1);
});
