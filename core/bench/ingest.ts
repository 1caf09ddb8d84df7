// Events/s and p99 acknowledgement latency of the Segment-compatible tracking API (batches of
// 100 track/identify calls over 2,000 profiles, BENCH_CONCURRENCY requests in flight, over
// HTTP into PostgreSQL), beside a raw COPY of as many equivalent rows into a table shaped like
// `event`, measured in the same run, and their ratio.
//
// Needs ATRIUM_TEST_DATABASE_URL (as `deploy/local/test.sh` starts it); a fresh database is made
// and dropped. Knobs: BENCH_SECONDS (default 10), BENCH_CONCURRENCY (default 8), BENCH_PROFILES
// (default 2000), BENCH_ROLE (`all`, default: workers in the same process; `api`: HTTP only, as
// when workers run elsewhere). Then the real-time segment update figure of bench/segments.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { parseSettings } from '../src/kernel/config.ts';
import { createWriteKey } from '../src/modules/profiles/service/write-keys.ts';
import { ensureWorkspace } from '../src/modules/workspaces/service.ts';
import { type Atrium, createAtrium } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../src/testing/test-database.ts';
import { runSegmentBench } from './segments.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
const profiles = Number(process.env.BENCH_PROFILES ?? 2000);
/** `all` also runs the outbox workers (segments, computed traits) in the process; `api` leaves them out. */
const role = process.env.BENCH_ROLE === 'api' ? 'api' : 'all';
const BATCH = 100;

export interface BenchAtrium {
  atrium: Atrium;
  url: string;
  databaseUrl: string;
  workspaceId: string;
  writeKey: string;
  stop(): Promise<void>;
}

/** Atrium on a fresh PostgreSQL database, with a workspace and a write key. */
export async function startBenchAtrium(settings: Record<string, string> = {}): Promise<BenchAtrium> {
  const database: TestDatabase = await createTestDatabase('atrium_bench');
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-bench-'));
  const atrium = await createAtrium({
    config: {
      settings: parseSettings({
        LOG_LEVEL: 'silent',
        DATABASE_URL: database.url,
        ATRIUM_DATA_DIR: dataDir,
        DATABASE_POOL_MAX: String(concurrency + 4),
        ...settings,
      }),
      plugins: [],
    },
    migrateOnStart: true,
    role,
  });
  const workspace = await ensureWorkspace(atrium.orm.em.fork(), 'bench', 'Bench');
  const { key } = await createWriteKey(atrium.orm.em.fork(), workspace.id, { name: 'bench' });
  const url = await atrium.listen(0, '127.0.0.1');
  return {
    atrium,
    url,
    databaseUrl: database.url,
    workspaceId: workspace.id,
    writeKey: key,
    async stop() {
      await atrium.stop();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const eventNames = ['Product Viewed', 'Product Added', 'Cart Viewed', 'Checkout Started', 'Order Completed'];
const context = {
  library: { name: 'analytics.js', version: '2.11.1' },
  ip: '203.0.113.7',
  userAgent:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  page: { path: '/products/42', url: 'https://shop.example/products/42' },
};

/**
 * One call as analytics.js would send it: every call carries the device's anonymousId, and
 * members' calls (even-numbered people) also their userId. 9 in 10 are tracks, 1 in 10 an
 * identify with traits (changing every 5,000 calls), and 1 in 200 a login that links a visitor's device to a member, i.e.
 * a merge of two existing profiles.
 */
export function benchCall(seq: number, run: string): Record<string, unknown> {
  const person = Math.floor(Math.random() * profiles);
  const member = person % 2 === 0;
  const messageId = `${run}-${seq}`;
  const timestamp = new Date().toISOString();
  const ids = { anonymousId: `anon-${person}`, ...(member ? { userId: `user-${person}` } : {}) };
  if (seq % 200 === 0) {
    const visitor = person | 1;
    return {
      type: 'identify',
      messageId,
      timestamp,
      anonymousId: `anon-${visitor}`,
      userId: `user-${visitor - 1}`,
      context,
    };
  }
  if (seq % 10 === 0) {
    const email = member ? { email: `person${person}@example.com` } : {};
    return {
      type: 'identify',
      messageId,
      timestamp,
      ...ids,
      // Like analytics.js, identify re-sends what it knows; it changes now and then.
      traits: { ...email, plan: person % 3 ? 'free' : 'pro', tier: Math.floor(seq / 5000) },
      context,
    };
  }
  const name = eventNames[seq % eventNames.length] as string;
  return {
    type: 'track',
    messageId,
    timestamp,
    event: name,
    ...ids,
    properties: { sku: `sku-${seq % 500}`, price: (seq % 100) + 0.99, currency: 'CHF', quantity: 1 },
    context,
  };
}

export interface IngestFigures {
  events: number;
  eventsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

/** POSTs batches of 100 calls, `concurrency` in flight, for `durationS` seconds. */
export async function postBatches(
  bench: BenchAtrium,
  durationS: number,
  run: string,
): Promise<IngestFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const { hostname, port } = new URL(bench.url);
  const authorization = `Basic ${Buffer.from(`${bench.writeKey}:`).toString('base64')}`;
  const latencies: number[] = [];
  let seq = 0;
  let errors = 0;
  const deadline = performance.now() + durationS * 1000;

  const post = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          agent,
          hostname,
          port,
          path: '/v1/batch',
          method: 'POST',
          headers: {
            authorization,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const worker = async () => {
    while (performance.now() < deadline) {
      const batch = Array.from({ length: BATCH }, () => benchCall(seq++, run));
      const body = JSON.stringify({ batch, sentAt: new Date().toISOString() });
      const started = performance.now();
      const status = await post(body);
      if (status === 200) latencies.push(performance.now() - started);
      else errors++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const events = latencies.length * BATCH;
  return { events, eventsPerSecond: events / elapsed, p50: at(0.5), p99: at(0.99), errors };
}

/** COPY of `rows` event rows (same columns, same indexes, as the profiles' events) into a scratch table. */
export async function copyEvents(bench: BenchAtrium, rows: number): Promise<{ rowsPerSecond: number }> {
  const client = new pg.Client({ connectionString: bench.databaseUrl });
  await client.connect();
  try {
    await client.query('create table bench_event_copy (like event including all)');
    const { rows: ids } = await client.query<{ id: string }>('select id from profile');
    const profileIds = ids.map((r) => r.id);
    const csv = (v: unknown) => (v === null ? '' : `"${String(v).replaceAll('"', '""')}"`);
    const chunks: string[] = [];
    let chunk = '';
    for (let i = 0; i < rows; i++) {
      const call = benchCall(i, 'copy');
      const at = String(call.timestamp);
      chunk += `${[
        crypto.randomUUID(),
        bench.workspaceId,
        profileIds[i % profileIds.length],
        call.messageId,
        call.type,
        call.event ?? null,
        call.userId ?? null,
        call.anonymousId ?? null,
        JSON.stringify(call.properties ?? {}),
        JSON.stringify(call.traits ?? {}),
        JSON.stringify(call.context),
        'server',
        at,
        at,
        at,
        at,
      ]
        .map(csv)
        .join(',')}\n`;
      if (chunk.length > 1 << 20) {
        chunks.push(chunk);
        chunk = '';
      }
    }
    chunks.push(chunk);
    const started = performance.now();
    await pipeline(
      chunks,
      client.query(
        copyFrom(
          `copy bench_event_copy (id, workspace_id, profile_id, message_id, type, name, user_id, anonymous_id,
             properties, traits, context, channel, timestamp, sent_at, original_timestamp, received_at) from stdin with (format csv)`,
        ),
      ),
    );
    return { rowsPerSecond: rows / ((performance.now() - started) / 1000) };
  } finally {
    await client.query('drop table if exists bench_event_copy');
    await client.end();
  }
}

if (import.meta.main) {
  const bench = await startBenchAtrium();
  try {
    // The warm-up creates most of the profiles and lets the JIT and the pools settle.
    await postBatches(bench, 2, 'warm');
    const ingest = await postBatches(bench, seconds, 'run');
    const [row] = await bench.atrium.orm.em
      .fork()
      .getConnection()
      .execute(
        'select (select count(*) from profile) as profiles, (select count(*) from profile_merge) as merges',
      );
    const copy = await copyEvents(bench, ingest.events);
    const ratio = ingest.eventsPerSecond / copy.rowsPerSecond;
    console.log(
      `\n${seconds} s, batches of ${BATCH} over ${profiles} people, ${concurrency} in flight, role ${role}, Node ${process.version}`,
    );
    console.log(
      `tracking API (HTTP, /v1/batch)   ${ingest.eventsPerSecond.toFixed(0).padStart(8)} events/s   p50 ${ingest.p50.toFixed(1)} ms   p99 ${ingest.p99.toFixed(1)} ms   errors ${ingest.errors}`,
    );
    console.log(`profiles ${row?.profiles}, merges of two profiles ${row?.merges} (warm-up included)`);
    console.log(
      `raw COPY of ${ingest.events} equivalent rows ${copy.rowsPerSecond.toFixed(0).padStart(8)} rows/s`,
    );
    console.log(
      `ratio: the API stores ${(ratio * 100).toFixed(1)} % of raw COPY's rows/s (aim: >= 30 %, >= 5,000 events/s)`,
    );
    if (ingest.errors > 0) process.exitCode = 1;
  } finally {
    await bench.stop();
  }
  // The issue's second figure: a real-time segment update, on a quiet database of its own.
  await runSegmentBench();
}
