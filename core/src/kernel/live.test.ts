import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.ts';
import { waitFor } from '../testing/wait-for.ts';
import { PostgresLiveBus } from './live.ts';
import { createLogger } from './logger.ts';

let database: TestDatabase;
let bus: PostgresLiveBus;

before(async () => {
  database = await createTestDatabase();
  bus = await PostgresLiveBus.connect(database.url, createLogger('silent'));
});
after(async () => {
  await bus?.close();
  await database?.drop();
});

/** Collects what a subscription yields until the test ends. */
function listen(topic: string, signal: AbortSignal): Record<string, unknown>[] {
  const seen: Record<string, unknown>[] = [];
  void (async () => {
    for await (const notice of bus.subscribe(topic, signal)) seen.push(notice);
  })();
  return seen;
}

test('a notice published through PostgreSQL reaches a subscriber of its topic only', async () => {
  const stop = new AbortController();
  const mine = listen('conversation:a', stop.signal);
  const others = listen('conversation:b', stop.signal);
  await bus.publish('conversation:a', { kind: 'message', messageId: 'm1' });
  await waitFor(() => mine.length === 1, 5000, 'the notice');
  assert.deepEqual(mine, [{ kind: 'message', messageId: 'm1' }]);
  assert.equal(others.length, 0);
  stop.abort();
});

test('after the server drops the LISTEN connection, the bus reconnects and notices flow again', async () => {
  const stop = new AbortController();
  const seen = listen('conversation:c', stop.signal);
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  try {
    const killed = await admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
       where application_name = 'atrium-live' and datname = current_database() and query ilike 'listen%'`,
    );
    assert.equal(killed.rowCount, 1, 'the listening connection was found and terminated');
    await waitFor(
      async () => {
        await bus.publish('conversation:c', { kind: 'status' });
        return seen.length > 0;
      },
      10000,
      'a notice after the reconnect',
    );
  } finally {
    await admin.end();
    stop.abort();
  }
});
