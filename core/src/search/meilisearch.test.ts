import { test } from 'node:test';
import { defineSearchContract } from './contract.ts';
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
