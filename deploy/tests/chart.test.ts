// The Helm chart as CI sees it: `helm lint --strict` and `helm template` with each values file in
// helm/atrium/ci/, then assertions on the parsed manifests. The helm binary is $HELM (exported by
// deploy/local/test.sh), else whatever deploy/local/helm.sh finds or builds.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { atriumSettingNames, repoRoot } from './atrium-settings.ts';

const chart = path.join(repoRoot, 'helm/atrium');
const valuesDir = path.join(chart, 'ci');
const valuesFiles = readdirSync(valuesDir).filter((f) => f.endsWith('-values.yaml'));
const minimalValues = path.join(valuesDir, 'minimal-values.yaml');
const scratch = mkdtempSync(path.join(tmpdir(), 'atrium-chart-'));

// Environment names that hold secrets: they may only come from a Secret.
const secretName = /PASSWORD|SECRET|(^|_)(TOKEN|KEY|CREDENTIALS?)$|^DATABASE_URL$/;

function helmBinary(): string {
  const { HELM } = process.env;
  if (HELM) return HELM;
  const out = execFileSync('bash', [path.join(repoRoot, 'deploy/local/helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = out.split('\n').find((l) => l.startsWith('HELM='));
  assert.ok(line, `deploy/local/helm.sh printed no HELM= line:\n${out}`);
  return line.slice('HELM='.length);
}
const helm = helmBinary();

// Asynchronous on purpose: test files whose tests never yield to the event loop lose result events
// under scripts/run-tests.ts (forceExit with process isolation), so every helm call is awaited.
async function runHelm(args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(helm, args, {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    return { status: 0, stdout, stderr };
  } catch (error: any) {
    return {
      status: typeof error.code === 'number' ? error.code : 1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? String(error),
    };
  }
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}

/** Writes values (an object, or a values file's path) for `-f`. JSON is YAML. */
function valuesArgs(values: (string | object)[]): string[] {
  return values.flatMap((v, i) => {
    if (typeof v === 'string') return ['-f', v];
    const file = path.join(scratch, `values-${Date.now()}-${i}.json`);
    writeFileSync(file, JSON.stringify(v));
    return ['-f', file];
  });
}

async function renderText(...values: (string | object)[]): Promise<string> {
  const r = await runHelm(['template', 'atrium', chart, '--namespace', 'cx', ...valuesArgs(values)]);
  assert.equal(r.status, 0, `helm template failed:\n${r.stderr}`);
  return r.stdout;
}

async function render(...values: (string | object)[]): Promise<Manifest[]> {
  return parseAllDocuments(await renderText(...values))
    .map((doc) => {
      assert.deepEqual(doc.errors, [], 'rendered YAML must parse');
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

/** Renders values that must be refused; returns helm's message. */
async function refused(...values: (string | object)[]): Promise<string> {
  const r = await runHelm(['template', 'atrium', chart, ...valuesArgs(values)]);
  assert.notEqual(r.status, 0, `helm template should have failed, rendered:\n${r.stdout.slice(0, 400)}`);
  return r.stderr;
}

const workloadKinds = new Set(['Deployment', 'StatefulSet', 'Job', 'Pod']);

function podSpecOf(m: Manifest): any {
  return m.kind === 'Pod' ? m.spec : m.spec.template.spec;
}

function containersOf(m: Manifest): any[] {
  const pod = podSpecOf(m);
  return [...(pod.initContainers ?? []), ...pod.containers];
}

function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  assert.ok(found, `${kind} ${name} is rendered`);
  return found;
}

function hookEvents(m: Manifest): string[] {
  return (m.metadata.annotations?.['helm.sh/hook'] ?? '').split(',').filter(Boolean);
}

for (const file of valuesFiles) {
  const valuesFile = path.join(valuesDir, file);
  const values = parse(readFileSync(valuesFile, 'utf8'));

  describe(`chart with ${file}`, () => {
    let manifests: Manifest[] = [];
    let workloads: Manifest[] = [];
    before(async () => {
      manifests = await render(valuesFile);
      workloads = manifests.filter((m) => workloadKinds.has(m.kind));
    });

    test('helm lint --strict passes', async () => {
      const r = await runHelm(['lint', '--strict', chart, '-f', valuesFile]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });

    test('every pod runs as non-root, read-only, unprivileged, with RuntimeDefault seccomp and no API token', () => {
      assert.ok(workloads.length >= 3);
      for (const m of workloads) {
        const pod = podSpecOf(m);
        const where = `${m.kind} ${m.metadata.name}`;
        assert.equal(pod.securityContext?.runAsNonRoot, true, `${where}: runAsNonRoot`);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp`);
        assert.equal(pod.automountServiceAccountToken, false, `${where}: no service account token`);
        for (const c of containersOf(m)) {
          const sc = c.securityContext ?? {};
          assert.equal(sc.readOnlyRootFilesystem, true, `${where}/${c.name}: read-only root`);
          assert.equal(sc.allowPrivilegeEscalation, false, `${where}/${c.name}: no privilege escalation`);
          assert.notEqual(sc.privileged, true, `${where}/${c.name}: not privileged`);
          assert.ok(sc.capabilities?.drop?.includes('ALL'), `${where}/${c.name}: drops ALL capabilities`);
          assert.equal(sc.capabilities?.add, undefined, `${where}/${c.name}: adds no capability`);
          assert.ok(
            c.resources?.requests?.memory && c.resources?.limits?.memory,
            `${where}/${c.name}: memory`,
          );
          assert.ok(c.resources?.requests?.cpu && c.resources?.limits?.cpu, `${where}/${c.name}: cpu`);
          const image = String(c.image);
          assert.ok(
            /[:@]/.test(image.split('/').pop() ?? ''),
            `${where}/${c.name}: image ${image} is pinned`,
          );
        }
      }
    });

    test('Atrium pods get writable /tmp and data directory, and the plugin list, beside a read-only root', () => {
      for (const m of workloads.filter((w) =>
        ['api', 'worker', 'migrate'].includes(w.metadata.labels?.['app.kubernetes.io/component'] ?? ''),
      )) {
        const [container] = podSpecOf(m).containers;
        const mounts = new Map(container.volumeMounts.map((v: any) => [v.mountPath, v]));
        assert.ok(mounts.has('/tmp'), `${m.metadata.name}: /tmp`);
        assert.ok(mounts.has('/var/lib/atrium'), `${m.metadata.name}: ATRIUM_DATA_DIR`);
        assert.ok(mounts.has('/app/config'), `${m.metadata.name}: plugin config`);
      }
    });

    test('api and worker are separate Deployments; the API is probed on /healthz and /readyz', () => {
      const api = find(manifests, 'Deployment', 'atrium-api');
      const worker = find(manifests, 'Deployment', 'atrium-worker');
      const [apiContainer] = podSpecOf(api).containers;
      assert.deepEqual(apiContainer.args, ['api']);
      const portName = apiContainer.ports[0].name;
      assert.equal(apiContainer.livenessProbe.httpGet.path, '/healthz');
      assert.equal(apiContainer.startupProbe.httpGet.path, '/healthz');
      assert.equal(apiContainer.readinessProbe.httpGet.path, '/readyz');
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        assert.equal(apiContainer[probe].httpGet.port, portName, `${probe} targets the API port`);
      }
      const [workerContainer] = podSpecOf(worker).containers;
      assert.deepEqual(workerContainer.args, ['worker']);
      assert.equal(workerContainer.ports, undefined, 'the worker serves no HTTP');
      const service = find(manifests, 'Service', 'atrium');
      assert.equal(service.spec.selector['app.kubernetes.io/component'], 'api');
    });

    test('replicas are left to the HPA where one scales a Deployment, and each role has a PodDisruptionBudget', () => {
      for (const role of ['api', 'worker']) {
        const deployment = find(manifests, 'Deployment', `atrium-${role}`);
        const hpa = manifests.find(
          (m) => m.kind === 'HorizontalPodAutoscaler' && m.spec.scaleTargetRef.name === `atrium-${role}`,
        );
        assert.equal(
          Boolean(hpa),
          values[role]?.autoscaling?.enabled ?? role === 'api',
          `${role}: HPA as configured`,
        );
        if (hpa) assert.equal(deployment.spec.replicas, undefined, `${role}: no replicas beside an HPA`);
        else assert.equal(typeof deployment.spec.replicas, 'number');
        const pdb = find(manifests, 'PodDisruptionBudget', `atrium-${role}`);
        assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
      }
    });

    test('migrations run as a pre-install and pre-upgrade hook, with the same settings as the pods', () => {
      const job = find(manifests, 'Job', 'atrium-migrate');
      assert.deepEqual(hookEvents(job).sort(), ['pre-install', 'pre-upgrade']);
      const pod = podSpecOf(job);
      assert.equal(pod.restartPolicy, 'Never');
      const [container] = pod.containers;
      assert.deepEqual(container.args, ['migrate']);
      // On a first install the release's ConfigMaps do not exist yet: the Job must not need them.
      const configVolume = pod.volumes.find((v: any) => v.configMap);
      const hookConfig = find(manifests, 'ConfigMap', configVolume.configMap.name);
      assert.deepEqual(hookEvents(hookConfig).sort(), ['pre-install', 'pre-upgrade']);
      const weight = (m: Manifest) => Number(m.metadata.annotations?.['helm.sh/hook-weight'] ?? 0);
      assert.ok(weight(hookConfig) < weight(job), 'the hook ConfigMap is created before the Job');
      assert.equal(container.envFrom, undefined);
      const env = new Map(container.env.map((e: any) => [e.name, e]));
      const settings = find(manifests, 'ConfigMap', 'atrium').data ?? {};
      for (const [name, value] of Object.entries(settings)) {
        assert.equal((env.get(name) as any)?.value, value, `the Job sees ${name} like the pods`);
      }
      assert.equal(
        hookConfig.data?.['atrium.config.ts'],
        find(manifests, 'ConfigMap', 'atrium-plugins').data?.['atrium.config.ts'],
        'the Job migrates the same plugins the pods run',
      );
    });

    test('settings are production ones and dev tokens are off', () => {
      const settings = find(manifests, 'ConfigMap', 'atrium').data ?? {};
      assert.equal(settings.NODE_ENV, 'production');
      assert.equal(settings.AUTH_DEV_TOKENS, 'false');
      assert.equal(settings.AUTH_ISSUER_URL, values.auth.issuerUrl);
      assert.equal(settings.ATRIUM_DATA_DIR, '/var/lib/atrium');
    });

    test('no secret value is rendered: secrets are references to existing Secrets', async () => {
      assert.equal(manifests.filter((m) => m.kind === 'Secret').length, 0, 'the chart creates no Secret');
      for (const cm of manifests.filter((m) => m.kind === 'ConfigMap')) {
        for (const key of Object.keys(cm.data ?? {})) {
          assert.ok(!secretName.test(key), `ConfigMap ${cm.metadata.name} holds ${key}`);
        }
      }
      for (const m of workloads) {
        for (const c of containersOf(m)) {
          for (const e of c.env ?? []) {
            if (!secretName.test(e.name)) continue;
            assert.equal(e.value, undefined, `${m.metadata.name}/${c.name}: ${e.name} has a plain value`);
            assert.ok(
              e.valueFrom?.secretKeyRef?.name,
              `${m.metadata.name}/${c.name}: ${e.name} is a Secret reference`,
            );
          }
        }
        const db = podSpecOf(m).containers[0].env?.find((e: any) => e.name === 'DATABASE_URL');
        if (db) assert.equal(db.valueFrom.secretKeyRef.name, values.database.existingSecret);
      }
      assert.doesNotMatch(
        await renderText(valuesFile),
        /[a-z]+:\/\/[^\s/"'@]+:[^\s/"'@]+@/,
        'no URL with credentials',
      );
    });

    test('NetworkPolicy: the API accepts only the ingress controller; egress only to DNS and the configured services', () => {
      const app = find(manifests, 'NetworkPolicy', 'atrium');
      assert.deepEqual(app.spec.policyTypes, ['Ingress', 'Egress']);
      assert.deepEqual(app.spec.ingress, [], 'api, worker and migrate pods accept nothing by default');
      assert.deepEqual(app.spec.podSelector.matchExpressions[0].values, ['api', 'worker', 'migrate']);
      const egress: any[] = app.spec.egress;
      const dns = egress.find((r) => r.ports.every((p: any) => p.port === 53));
      assert.ok(dns?.to?.[0]?.namespaceSelector, 'DNS to the cluster DNS only');
      const np = values.networkPolicy ?? {};
      const allowedPorts = new Set<number>([53, 5432, 443, 7700, 11434]);
      for (const rule of (np.extraEgress ?? []) as any[])
        for (const p of rule.ports) allowedPorts.add(p.port);
      for (const rule of egress) {
        for (const p of rule.ports)
          assert.ok(allowedPorts.has(p.port), `egress port ${p.port} is a configured one`);
      }
      // Where the values pin every service (enterprise), no rule may reach "anywhere".
      const pinned = ['postgresql', 'meilisearch', 'ollama', 'keycloak'].every(
        (s) => np.egress?.[s]?.to?.length,
      );
      if (pinned)
        for (const rule of egress) assert.ok(rule.to?.length, `rule ${JSON.stringify(rule)} is pinned`);
      for (const bundled of ['meilisearch', 'ollama']) {
        if (!values[bundled]?.bundled?.enabled) continue;
        const rule = egress.find(
          (r) => r.to?.[0]?.podSelector?.matchLabels?.['app.kubernetes.io/component'] === bundled,
        );
        assert.ok(rule, `egress to the bundled ${bundled}`);
        const policy = find(manifests, 'NetworkPolicy', `atrium-${bundled}`);
        assert.ok(
          policy.spec.ingress[0].from[0].podSelector.matchExpressions,
          `${bundled} accepts Atrium pods only`,
        );
      }

      const api = find(manifests, 'NetworkPolicy', 'atrium-api');
      assert.deepEqual(api.spec.policyTypes, ['Ingress']);
      const [fromController] = api.spec.ingress[0].from;
      const controller = np.ingressController?.namespaceSelector ?? {
        matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' },
      };
      assert.deepEqual(fromController.namespaceSelector, controller);
      for (const rule of api.spec.ingress) assert.deepEqual(rule.ports, [{ port: 'http', protocol: 'TCP' }]);
    });

    test('the Ingress (when on) terminates TLS and routes only public paths', () => {
      const ingress = manifests.find((m) => m.kind === 'Ingress');
      assert.equal(Boolean(ingress), Boolean(values.ingress?.enabled));
      if (!ingress) return;
      const hosts = ingress.spec.rules.map((r: any) => r.host);
      assert.deepEqual(ingress.spec.tls[0].hosts, hosts);
      assert.ok(ingress.spec.tls[0].secretName);
      const paths = ingress.spec.rules.flatMap((r: any) => r.http.paths.map((p: any) => p.path));
      assert.ok(paths.includes('/graphql') && paths.includes('/v1'));
      for (const internal of ['/', '/metrics', '/healthz', '/readyz']) assert.ok(!paths.includes(internal));
      assert.equal(find(manifests, 'ConfigMap', 'atrium').data?.PUBLIC_BASE_URL, `https://${hosts[0]}`);
    });

    test('the generated atrium.config.ts imports every listed plugin, and each is a package in the image', () => {
      const source = find(manifests, 'ConfigMap', 'atrium-plugins').data?.['atrium.config.ts'] ?? '';
      const workspaces = new Set(
        readdirSync(path.join(repoRoot, 'plugins')).map(
          (dir) => JSON.parse(readFileSync(path.join(repoRoot, 'plugins', dir, 'package.json'), 'utf8')).name,
        ),
      );
      const plugins = (values.plugins ?? [
        { package: '@atrium/plugin-webhooks', export: 'webhooksPlugin' },
      ]) as any[];
      plugins.forEach((plugin, i) => {
        assert.ok(source.includes(`import * as plugin${i} from ${JSON.stringify(plugin.package)};`));
        assert.ok(source.includes(`plugin${i}.${plugin.export}(`));
        assert.ok(workspaces.has(plugin.package), `${plugin.package} is a workspace, so the image has it`);
      });
    });
  });
}

describe('chart values that must be refused', () => {
  test('the chart names each required value it is missing', async () => {
    assert.match(await refused({}), /image\.repository is required/);
    const image = { image: { repository: 'registry.example.com/atrium' } };
    assert.match(await refused(image), /database\.existingSecret is required/);
    assert.match(
      await refused(image, { database: { existingSecret: 'db' } }),
      /auth\.issuerUrl and auth\.audience/,
    );
    assert.match(
      await refused(minimalValues, { search: { engine: 'meilisearch' } }),
      /meilisearch\.url or meilisearch\.bundled/,
    );
    assert.match(
      await refused(minimalValues, { meilisearch: { bundled: { enabled: true } } }),
      /meilisearch\.bundled\.enabled needs meilisearch\.existingSecret/,
    );
  });

  test('a plaintext database URL or password in values is refused by values.schema.json', async () => {
    const url = 'postgresql://atrium:hunter2@db.example.com/atrium';
    const settingsMessage = await refused(minimalValues, { settings: { DATABASE_URL: url } });
    assert.match(settingsMessage, /values don't meet the specifications of the schema/);
    assert.match(settingsMessage, /DATABASE_URL/);
    assert.match(
      await refused(minimalValues, { extraEnv: [{ name: 'MEILI_API_KEY', value: 'hunter2' }] }),
      /extraEnv/,
    );
    assert.match(
      await refused(minimalValues, { extraEnv: [{ name: 'SMTP_PASSWORD', value: 'hunter2' }] }),
      /extraEnv/,
    );
    assert.match(await refused(minimalValues, { database: { password: 'hunter2' } }), /password/);
    assert.match(await refused(minimalValues, { settings: { AUTH_DEV_TOKENS: 'true' } }), /AUTH_DEV_TOKENS/);
  });

  test('a secret passed through secretEnv reaches the pods only as a Secret reference', async () => {
    const manifests = await render(minimalValues, {
      secretEnv: [{ name: 'SMTP_URL', secretName: 'atrium-mail', key: 'url' }],
      extraEnv: [{ name: 'TZ', value: 'Europe/Berlin' }],
    });
    const worker = find(manifests, 'Deployment', 'atrium-worker');
    const env = podSpecOf(worker).containers[0].env;
    assert.deepEqual(
      env.find((e: any) => e.name === 'SMTP_URL'),
      { name: 'SMTP_URL', valueFrom: { secretKeyRef: { name: 'atrium-mail', key: 'url' } } },
    );
    assert.deepEqual(
      env.find((e: any) => e.name === 'TZ'),
      { name: 'TZ', value: 'Europe/Berlin' },
    );
  });

  test('the hardening cannot be switched off, and /metrics cannot be routed through the Ingress', async () => {
    assert.match(
      await refused(minimalValues, { containerSecurityContext: { readOnlyRootFilesystem: false } }),
      /readOnlyRootFilesystem/,
    );
    assert.match(
      await refused(minimalValues, { containerSecurityContext: { allowPrivilegeEscalation: true } }),
      /allowPrivilegeEscalation/,
    );
    assert.match(
      await refused(minimalValues, { podSecurityContext: { runAsNonRoot: false } }),
      /runAsNonRoot/,
    );
    assert.match(await refused(minimalValues, { ingress: { paths: ['/'] } }), /paths/);
    assert.match(await refused(minimalValues, { ingress: { paths: ['/metrics'] } }), /paths/);
  });

  test('settings are checked against the ranges Atrium accepts', async () => {
    assert.match(await refused(minimalValues, { settings: { GRAPHQL_MAX_DEPTH: 1 } }), /GRAPHQL_MAX_DEPTH/);
    assert.match(await refused(minimalValues, { settings: { LOG_LEVEL: 'verbose' } }), /LOG_LEVEL/);
    assert.match(
      await refused(minimalValues, { plugins: [{ package: 'x; rm -rf /', export: 'p' }] }),
      /package/,
    );
  });
});

describe('chart and core stay in step', () => {
  test('every Atrium setting is either a chart setting or derived by the chart', () => {
    const schema = JSON.parse(readFileSync(path.join(chart, 'values.schema.json'), 'utf8'));
    const chartSettings = new Set(Object.keys(schema.definitions.settings.properties));
    // Set by the chart from structured values (or fixed), never through `settings`.
    const derived = new Set([
      'NODE_ENV',
      'HOST',
      'PORT',
      'ATRIUM_DATA_DIR',
      'DATABASE_URL',
      'AUTH_ISSUER_URL',
      'AUTH_AUDIENCE',
      'AUTH_DEV_TOKENS',
      'SEARCH_ENGINE',
      'MEILI_URL',
      'MEILI_API_KEY',
      'PUBLIC_BASE_URL',
      'OLLAMA_URL',
    ]);
    const unknown = atriumSettingNames().filter((name) => !chartSettings.has(name) && !derived.has(name));
    assert.deepEqual(
      unknown,
      [],
      'add these to helm/atrium/values.schema.json (settings) or derive them in the chart',
    );
    for (const name of chartSettings) assert.ok(!derived.has(name), `${name} is both a setting and derived`);
  });

  test('a large setting is rendered as an integer, not in exponent notation', async () => {
    const manifests = await render(minimalValues, { settings: { INGEST_RATE_PER_SECOND: 1000000 } });
    assert.equal(find(manifests, 'ConfigMap', 'atrium').data?.INGEST_RATE_PER_SECOND, '1000000');
  });

  test('termination grace covers both drains of SHUTDOWN_TIMEOUT_MS and the preStop pause', async () => {
    const manifests = await render(minimalValues, { settings: { SHUTDOWN_TIMEOUT_MS: 30000 } });
    const api = podSpecOf(find(manifests, 'Deployment', 'atrium-api'));
    assert.equal(api.terminationGracePeriodSeconds, 2 * 30 + 10 + 5);
  });
});
