// No Docker engine runs here, so deploy/Dockerfile and deploy/compose.yaml are kept correct by
// construction and by this test: it parses both and checks what a build and a stack depend on.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { atriumSettingNames, repoRoot } from './atrium-settings.ts';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions; continuation lines joined, comments dropped. */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] ?? '';
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i] ?? ''}`;
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    assert.ok(match, `Dockerfile line ${start + 1} is an instruction: ${line}`);
    const keyword = (match[1] ?? '').toUpperCase();
    const rest = (match[2] ?? '').trim();
    if (keyword === 'FROM') {
      const [from = '', , name] = rest.split(/\s+/);
      stages.push({ from, name, instructions: [] });
    } else if (stages.length === 0) {
      assert.equal(keyword, 'ARG', 'only ARG may come before the first FROM');
      const [name = '', value = ''] = rest.split('=');
      args.set(name, value);
    } else {
      stages.at(-1)?.instructions.push({ keyword, args: rest, line: start + 1 });
    }
  }
  return { args, stages };
}

function all(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

describe('deploy/Dockerfile', () => {
  const { args, stages } = parseDockerfile(readFileSync(path.join(repoRoot, 'deploy/Dockerfile'), 'utf8'));
  const runtime = stages.at(-1) as Stage;
  const resolve = (image: string) => image.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? '');

  test('is multi-stage on Node 24, and the runtime stage installs nothing itself', () => {
    assert.ok(stages.length >= 2, 'at least a build stage and a runtime stage');
    for (const stage of stages) {
      const image = resolve(stage.from);
      assert.match(image, /^node:24[.-]/, `stage ${stage.name} runs Node 24 (got ${image})`);
    }
    for (const run of all(runtime, 'RUN')) assert.doesNotMatch(run.args, /npm (ci|install)/);
    const fromDeps = all(runtime, 'COPY').find((c) => /--from=/.test(c.args));
    assert.ok(fromDeps, 'the runtime stage copies its dependencies from a build stage');
  });

  test('installs production dependencies only, from the lock file, without install scripts', () => {
    const installs = stages.flatMap((s) => all(s, 'RUN')).filter((r) => /npm (ci|install)/.test(r.args));
    assert.equal(installs.length, 1);
    const install = installs[0]?.args ?? '';
    assert.match(install, /npm ci\b/, 'npm ci: exactly the lock file');
    assert.match(install, /--omit=dev\b/);
    assert.match(install, /--ignore-scripts\b/);
  });

  test('runs as a numeric non-root user, with NODE_ENV=production and a writable data directory', () => {
    const users = all(runtime, 'USER');
    assert.ok(users.length > 0, 'the runtime stage sets USER');
    const last = users.at(-1) as Instruction;
    const [uid] = last.args.split(':');
    assert.match(uid ?? '', /^[1-9][0-9]*$/, 'a numeric uid, so runAsNonRoot can verify it');
    const afterUser = runtime.instructions.filter((i) => i.line > last.line).map((i) => i.keyword);
    assert.ok(!afterUser.includes('RUN') && !afterUser.includes('COPY'), 'nothing is built after USER');
    const env = all(runtime, 'ENV')
      .map((e) => e.args)
      .join(' ');
    assert.match(env, /\bNODE_ENV=production\b/);
    assert.match(env, /\bATRIUM_DATA_DIR=\/var\/lib\/atrium\b/);
    assert.match(
      all(runtime, 'RUN')
        .map((r) => r.args)
        .join(' '),
      /chown 1000:1000 \/var\/lib\/atrium/,
    );
  });

  test('carries OCI labels and a health check on /healthz', () => {
    const labels = all(runtime, 'LABEL')
      .map((l) => l.args)
      .join(' ');
    for (const key of ['title', 'description', 'version', 'revision', 'created', 'source']) {
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`), `label ${key}`);
    }
    const [healthcheck] = all(runtime, 'HEALTHCHECK');
    assert.ok(healthcheck, 'HEALTHCHECK');
    assert.match(healthcheck.args, /CMD \[/);
    assert.match(healthcheck.args, /\/healthz/);
  });

  test('starts the Atrium CLI with `api` by default, on the port it exposes', () => {
    const [entrypoint] = all(runtime, 'ENTRYPOINT');
    const [cmd] = all(runtime, 'CMD');
    assert.deepEqual(JSON.parse(entrypoint?.args ?? '[]'), ['node', 'core/bin/atrium.js']);
    assert.deepEqual(JSON.parse(cmd?.args ?? '[]'), ['api']);
    assert.ok(existsSync(path.join(repoRoot, 'core/bin/atrium.js')));
    assert.match(
      all(runtime, 'ENV')
        .map((e) => e.args)
        .join(' '),
      /\bPORT=4000\b/,
    );
    assert.equal(all(runtime, 'EXPOSE')[0]?.args, '4000');
  });

  test('copies only paths that exist, and the build context leaves out node_modules and tests', () => {
    for (const stage of stages) {
      for (const copy of all(stage, 'COPY').filter((c) => !/--from=/.test(c.args))) {
        const sources = copy.args.split(/\s+/).slice(0, -1);
        for (const source of sources)
          assert.ok(existsSync(path.join(repoRoot, source)), `COPY source ${source}`);
      }
    }
    const ignore = readFileSync(path.join(repoRoot, 'deploy/Dockerfile.dockerignore'), 'utf8').split('\n');
    for (const rule of ['**/node_modules', '**/*.test.ts', '**/.atrium'])
      assert.ok(ignore.includes(rule), rule);
    // Plugins may read files beside their sources at run time (the web chat widget): keep whole folders.
    assert.ok(ignore.includes('!plugins/**'), 'whole plugin folders are in the context');
  });
});

describe('deploy/compose.yaml', () => {
  const compose = parse(readFileSync(path.join(repoRoot, 'deploy/compose.yaml'), 'utf8'), { merge: true });
  const services: Record<string, any> = compose.services;
  const atrium = ['migrate', 'api', 'worker'];

  test('has the full stack: api, worker, PostgreSQL, Meilisearch, Ollama and Keycloak', () => {
    for (const name of ['api', 'worker', 'migrate', 'postgres', 'meilisearch', 'ollama', 'keycloak']) {
      assert.ok(services[name], `service ${name}`);
    }
    assert.deepEqual(services.api.command, ['api']);
    assert.deepEqual(services.worker.command, ['worker']);
    assert.deepEqual(services.migrate.command, ['migrate']);
  });

  test('builds the Atrium services from deploy/Dockerfile and runs them hardened', () => {
    for (const name of atrium) {
      const s = services[name];
      assert.equal(
        path.resolve(repoRoot, 'deploy', s.build.context, s.build.dockerfile),
        path.join(repoRoot, 'deploy/Dockerfile'),
      );
      assert.equal(s.read_only, true, `${name}: read-only root`);
      assert.match(String(s.user), /^[1-9][0-9]*:[0-9]+$/, `${name}: non-root`);
      assert.deepEqual(s.cap_drop, ['ALL']);
      assert.ok(s.security_opt.includes('no-new-privileges:true'));
      assert.ok(
        s.tmpfs.includes('/tmp') && s.tmpfs.includes('/var/lib/atrium'),
        `${name}: writable /tmp and data dir`,
      );
    }
  });

  test('configures Atrium for production with only settings Atrium knows', () => {
    const known = new Set([...atriumSettingNames(), 'OLLAMA_URL']);
    for (const name of atrium) {
      const env: Record<string, string> = services[name].environment;
      assert.equal(env.NODE_ENV, 'production');
      for (const key of ['DATABASE_URL', 'AUTH_ISSUER_URL', 'AUTH_AUDIENCE', 'MEILI_URL', 'MEILI_API_KEY']) {
        assert.ok(env[key], `${name}: ${key}`);
      }
      for (const key of Object.keys(env)) assert.ok(known.has(key), `${name}: ${key} is an Atrium setting`);
    }
    const env = services.api.environment;
    assert.equal(env.MEILI_API_KEY, services.meilisearch.environment.MEILI_MASTER_KEY);
    assert.match(env.DATABASE_URL, /@postgres:5432\/atrium$/);
    assert.equal(new URL(env.AUTH_ISSUER_URL).origin, services.keycloak.environment.KC_HOSTNAME);
  });

  test('Keycloak imports the atrium realm with the client the API expects', () => {
    const mount = services.keycloak.volumes.find((v: string) => v.includes('/opt/keycloak/data/import'));
    const dir = path.resolve(repoRoot, 'deploy', mount.split(':')[0]);
    const realm = JSON.parse(readFileSync(path.join(dir, 'atrium-realm.json'), 'utf8'));
    assert.equal(realm.realm, 'atrium');
    assert.ok(services.api.environment.AUTH_ISSUER_URL.endsWith(`/realms/${realm.realm}`));
    assert.ok(realm.clients.some((c: any) => c.clientId === services.api.environment.AUTH_AUDIENCE));
    assert.ok(services.keycloak.command.includes('--import-realm'));
  });

  test('every long-running service has a health check, and services wait for what they need', () => {
    for (const name of ['postgres', 'meilisearch', 'ollama', 'keycloak', 'api']) {
      const check = services[name].healthcheck;
      assert.ok(Array.isArray(check?.test), `${name}: healthcheck`);
      for (const part of check.test)
        assert.equal(typeof part, 'string', `${name}: healthcheck parts are strings`);
    }
    assert.deepEqual(services.api.healthcheck.test.slice(0, 2), ['CMD', 'node']);
    assert.match(services.api.healthcheck.test.at(-1), /\/readyz/);
    assert.equal(services.worker.healthcheck.disable, true, 'the worker serves no HTTP');
    for (const name of ['api', 'worker']) {
      const deps = services[name].depends_on;
      assert.equal(
        deps.migrate.condition,
        'service_completed_successfully',
        `${name} starts after migrations`,
      );
      assert.equal(deps.postgres.condition, 'service_healthy');
    }
    assert.equal(services.api.depends_on.keycloak.condition, 'service_healthy');
    assert.equal(services.migrate.depends_on.postgres.condition, 'service_healthy');
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries<any>(s.depends_on ?? {})) {
        assert.ok(services[dep], `${name} depends on a defined service ${dep}`);
        if (condition === 'service_healthy')
          assert.ok(services[dep].healthcheck?.test, `${dep} has a health check`);
      }
    }
  });
});
