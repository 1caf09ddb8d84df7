import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from '../../../db/sql.ts';
import { createTestEnvironment, type TestEnvironment } from '../../../testing/index.ts';
import type { WorkspaceEntity } from '../../workspaces/entities.ts';
import { ingestCalls } from './ingestion.ts';
import { parseTrackingRequest } from './tracking-calls.ts';

let env: TestEnvironment;
let demo: WorkspaceEntity;
before(async () => {
  env = await createTestEnvironment();
  demo = await env.workspace('demo');
});
after(() => env?.destroy());

const calls = (body: unknown) => parseTrackingRequest(body, 'batch', new Date(), 0);

test('concurrent transactions for one new visitor make one profile and keep every event', async () => {
  // Each call is its own transaction here (no group commit), so the identity locks do the work.
  await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      ingestCalls(
        env.atrium.orm,
        demo.id,
        calls({ batch: [{ type: 'track', anonymousId: 'anon-tx-race', event: `Tap ${i}` }] }),
      ),
    ),
  );
  const profiles = await sql<{ profile_id: string; n: string }>(
    env.em(),
    `select profile_id, count(*) as n from event where anonymous_id = 'anon-tx-race' group by 1`,
  );
  assert.equal(profiles.length, 1);
  assert.equal(Number(profiles[0]?.n), 8);
});

test('the outcome counts what was stored and what repeated a messageId', async () => {
  const batch = [
    { type: 'track', userId: 'u-count', event: 'A', messageId: 'count-1' },
    { type: 'track', userId: 'u-count', event: 'A again', messageId: 'count-1' },
    { type: 'track', userId: 'u-count', event: 'B', messageId: 'count-2' },
  ];
  const first = await ingestCalls(env.atrium.orm, demo.id, calls({ batch }));
  assert.equal(first.stored, 2);
  assert.equal(first.duplicates, 1);
  const again = await ingestCalls(env.atrium.orm, demo.id, calls({ batch }));
  assert.deepEqual(again, { stored: 0, duplicates: 3, profileIds: [] });
});
