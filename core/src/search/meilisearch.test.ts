import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineSearchContract } from './contract.ts';
import { SearchError } from './engine.ts';
import { MeilisearchEngine } from './meilisearch.ts';

const url = process.env.MEILI_URL;

if (url) {
  defineSearchContract(
    'Meilisearch',
    async () => ({
      engine: new MeilisearchEngine({ url, apiKey: process.env.MEILI_API_KEY }),
      stop: async () => {},
    }),
    // Meilisearch matches by prefix and typo tolerance; it has no stemming.
    { stemming: false },
  );
} else {
  const message = 'Meilisearch contract suite skipped: MEILI_URL is not set';
  console.log(message);
  test('Meilisearch contract suite', { skip: message }, () => {});
}

// Runs without a server: an unreachable Meilisearch must say so, typed, and never echo the key.
test('an unreachable Meilisearch is a SEARCH_UNAVAILABLE error that names the URL, not the key', async () => {
  const engine = new MeilisearchEngine({
    url: 'http://127.0.0.1:9',
    apiKey: 'secret-master-key',
    timeoutMs: 2000,
  });
  await assert.rejects(
    engine.search({ workspaceId: crypto.randomUUID(), collections: ['content'], query: 'anything' }),
    (error: unknown) => {
      assert.ok(error instanceof SearchError);
      assert.equal(error.code, 'SEARCH_UNAVAILABLE');
      assert.match(error.message, /127\.0\.0\.1:9/);
      assert.ok(!error.message.includes('secret-master-key'));
      return true;
    },
  );
});
