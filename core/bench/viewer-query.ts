// Requests/s and p99 latency of the authenticated `viewer` query through the full stack
// (Koa, auth, workspace lookup, Yoga, Pothos, PostgreSQL), beside a bare Koa handler
// measured in the same run on the same machine, and their ratio.
//
// Database: the PostgreSQL at ATRIUM_TEST_DATABASE_URL when set (as `deploy/local/test.sh`
// starts it), else the embedded PGlite. Knobs: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 20).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Koa from 'koa';
import { devTokenSecret, signDevToken } from '../src/auth/dev-tokens.ts';
import { parseSettings } from '../src/kernel/config.ts';
import { ensureWorkspace } from '../src/modules/workspaces/service.ts';
import { createAtrium } from '../src/server.ts';
import { createTestDatabase } from '../src/testing/test-database.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);

interface Figures {
  rps: number;
  p99: number;
  errors: number;
}

async function measure(url: string, options: Partial<autocannon.Options> = {}): Promise<Figures> {
  // A short warm-up lets the JIT and connection pools settle before the measured run.
  await autocannon({ url, connections, duration: 2, ...options });
  const result = await autocannon({ url, connections, duration: seconds, ...options });
  return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

async function bareKoa(): Promise<Figures> {
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = { data: { viewer: { workspace: { slug: 'demo' }, scopes: ['admin'] } } };
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    return await measure(`http://127.0.0.1:${port}/graphql`, { method: 'POST' });
  } finally {
    server.close();
  }
}

async function atriumViewer(): Promise<Figures & { database: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-bench-'));
  const database = process.env.ATRIUM_TEST_DATABASE_URL ? await createTestDatabase('atrium_bench') : null;
  const settings = parseSettings({
    LOG_LEVEL: 'silent',
    DATABASE_URL: database?.url ?? '',
    ATRIUM_DATA_DIR: dataDir,
    AUTH_DEV_TOKENS: 'true',
  });
  const atrium = await createAtrium({ config: { settings, plugins: [] }, migrateOnStart: true });
  try {
    await ensureWorkspace(atrium.orm.em.fork(), 'demo', 'Demo');
    const url = await atrium.listen(0, '127.0.0.1');
    const token = signDevToken(devTokenSecret(dataDir), { role: 'admin', workspace: 'demo' });
    const figures = await measure(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { workspace { slug } scopes } }' }),
    });
    return { ...figures, database: database ? 'PostgreSQL' : 'embedded PGlite' };
  } finally {
    await atrium.stop();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const baseline = await bareKoa();
const viewer = await atriumViewer();
const row = (name: string, f: Figures) =>
  `${name.padEnd(44)} ${f.rps.toFixed(0).padStart(8)} req/s   p99 ${String(f.p99).padStart(4)} ms   errors ${f.errors}`;
console.log(`\n${seconds} s per run, ${connections} connections, one process, Node ${process.version}`);
console.log(row('bare Koa handler (baseline)', baseline));
console.log(row(`viewer query, full stack (${viewer.database})`, viewer));
console.log(
  `ratio: full stack serves ${(viewer.rps / baseline.rps).toFixed(3)} of the baseline's requests/s; p99 ${(viewer.p99 / Math.max(baseline.p99, 1)).toFixed(1)}x`,
);
if (viewer.errors > 0) {
  console.error(`the viewer query failed ${viewer.errors} times during the run`);
  process.exitCode = 1;
}
