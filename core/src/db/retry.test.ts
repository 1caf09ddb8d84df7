import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../testing/index.ts';
import { transactionalWithRetry } from './retry.ts';
import { sql } from './sql.ts';

let env: TestEnvironment;
before(async () => {
  env = await createTestEnvironment();
  await sql(env.em(), `create table retry_probe (id int primary key, n int not null)`);
  await sql(env.em(), `insert into retry_probe values (1, 0), (2, 0)`);
});
after(() => env?.destroy());

/** Locks `first`, waits for the other transaction to lock its row, then wants `second`. */
function crossing(
  first: number,
  second: number,
  attempts: number[],
  barrier: Promise<void>,
  arrive: () => void,
) {
  return transactionalWithRetry(env.atrium.orm.em, async (em) => {
    attempts.push(first);
    await sql(em, `update retry_probe set n = n + 1 where id = $1`, [first]);
    if (attempts.filter((a) => a === first).length === 1) {
      arrive();
      await barrier;
    }
    await sql(em, `update retry_probe set n = n + 1 where id = $1`, [second]);
  });
}

test('a transaction PostgreSQL aborts for a deadlock runs again, and its effect lands once', async () => {
  const attempts: number[] = [];
  let arrived = 0;
  let open!: () => void;
  const barrier = new Promise<void>((resolve) => {
    open = resolve;
  });
  const arrive = () => {
    arrived += 1;
    if (arrived === 2) open();
  };
  await Promise.all([crossing(1, 2, attempts, barrier, arrive), crossing(2, 1, attempts, barrier, arrive)]);
  assert.equal(attempts.length, 3, 'one of the two was chosen as the deadlock victim and retried');
  const rows = await sql<{ id: number; n: number }>(env.em(), `select id, n from retry_probe order by id`);
  assert.deepEqual(
    rows.map((r) => r.n),
    [2, 2],
    'both transactions took effect exactly once',
  );
});

test('other errors are not retried', async () => {
  let runs = 0;
  await assert.rejects(
    transactionalWithRetry(env.atrium.orm.em, async (em) => {
      runs += 1;
      await sql(em, `insert into retry_probe values (1, 0)`);
    }),
    /duplicate key/,
  );
  assert.equal(runs, 1);
});
