import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../../../testing/index.ts';
import { doc, seedEntry, seedLocales } from '../delivery/test-fixtures.ts';
import { ensureKnowledgeBaseType, knowledgeArticles } from './knowledge-base.ts';

let env: TestEnvironment;
let demoId: string;

const ENSURE = `mutation { ensureKnowledgeBaseType { typeKey created } }`;
const ARTICLES = `query ($query: String, $locale: String!, $includeInternal: Boolean) {
  knowledgeArticles(query: $query, locale: $locale, includeInternal: $includeInternal) {
    edges { node { key internal question answerText answerMarkdown relatedProducts locale score } }
  }
}`;

before(async () => {
  env = await createTestEnvironment();
  const orm = env.atrium.orm;
  demoId = (await env.workspace('demo')).id;
  await seedLocales(orm, demoId, [
    { code: 'en', isDefault: true },
    { code: 'de', fallback: 'en' },
  ]);
  const editor = env.adminClient.withToken(env.token('editor'));
  assert.deepEqual((await editor.ok(ENSURE)).ensureKnowledgeBaseType, {
    typeKey: 'kb_article',
    created: true,
  });
  assert.deepEqual((await editor.ok(ENSURE)).ensureKnowledgeBaseType, {
    typeKey: 'kb_article',
    created: false,
  });
  const typeId = (await ensureKnowledgeBaseType(orm.em.fork(), demoId)).id;
  await seedEntry(orm, demoId, {
    typeId,
    key: 'returns',
    values: {
      en: { question: 'How do I return an item?', answer: doc('Send it back within **30** days.') },
      de: { question: 'Wie sende ich etwas zurück?' },
      '*': { relatedProducts: ['SKU-1'], relatedCategories: ['orders'], validUntil: '2999-12-31' },
    },
  });
  await seedEntry(orm, demoId, {
    typeId,
    key: 'shipping',
    values: {
      en: { question: 'How long does shipping take?', answer: doc('Two days for an item in stock.') },
    },
  });
  await seedEntry(orm, demoId, {
    typeId,
    key: 'refund-override',
    visibility: 'internal',
    values: {
      en: { question: 'How do agents override a refund for a returned item?', answer: doc('Back office.') },
    },
  });
  await seedEntry(orm, demoId, {
    typeId,
    key: 'expired',
    values: {
      en: { question: 'Return item promo', answer: doc('Over.') },
      '*': { validUntil: '2020-01-01' },
    },
  });
});
after(() => env?.destroy());

const keys = (data: any) => data.knowledgeArticles.edges.map((e: any) => e.node.key);

describe('knowledge base', () => {
  test('agents see internal articles when they ask; the Public graph never does', async () => {
    const agent = env.adminClient.withToken(env.token('agent'));
    const all = await agent.ok(ARTICLES, { locale: 'en', includeInternal: true });
    assert.deepEqual(keys(all).sort(), ['refund-override', 'returns', 'shipping']);
    assert.deepEqual(keys(await agent.ok(ARTICLES, { locale: 'en' })).sort(), ['returns', 'shipping']);
    const reader = env.publicClient.withToken(env.token('reader'));
    const publicAnswer = await reader.ok(ARTICLES, { locale: 'en', includeInternal: true });
    assert.deepEqual(keys(publicAnswer).sort(), ['returns', 'shipping']);
    const analyst = await env.adminClient.withToken(env.token('analyst')).query(ARTICLES, { locale: 'en' });
    assert.equal(analyst.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  });

  test('a query ranks by word overlap, question words first; expired articles never show', async () => {
    const agent = env.adminClient.withToken(env.token('agent'));
    const found = await agent.ok(ARTICLES, { query: 'return item', locale: 'en', includeInternal: true });
    assert.deepEqual(keys(found), ['returns', 'refund-override', 'shipping']);
    const first = found.knowledgeArticles.edges[0].node;
    assert.equal(first.answerText, 'Send it back within **30** days.');
    assert.equal(first.answerMarkdown, 'Send it back within **30** days.');
    assert.deepEqual(first.relatedProducts, ['SKU-1']);
  });

  test('locale fallback per field; the article says where its question came from', async () => {
    const [returns] = await knowledgeArticles(env.em(), demoId, {
      locale: 'de',
      includeInternal: false,
      query: 'zurück',
    });
    assert.equal(returns?.question, 'Wie sende ich etwas zurück?');
    assert.equal(returns?.locale, 'de');
    assert.equal(returns?.answerText, 'Send it back within **30** days.');
  });

  test('another workspace has no articles of this one', async () => {
    const other = env.adminClient.withToken(env.token('agent', 'other'));
    const data = await other.query(ARTICLES, { locale: 'en', includeInternal: true });
    assert.deepEqual(data.data ? keys(data.data) : [], []);
  });
});
