import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import jsonld from 'jsonld';
import { createTestEnvironment, type TestEnvironment } from '../../../testing/index.ts';
import { doc, republish, seedEntry, seedLocales, seedType } from '../delivery/test-fixtures.ts';
import { ensureKnowledgeBaseType } from '../knowledge/knowledge-base.ts';
import { offlineDocumentLoader } from './schema-org-context.ts';

let env: TestEnvironment;
let launchId: string;
const BASE = 'https://cx.example.com';
const S = 'http://schema.org/';

before(async () => {
  env = await createTestEnvironment({
    settings: { PUBLIC_BASE_URL: BASE, PUBLIC_CONTENT_RATE_PER_SECOND: '10000' },
  });
  const orm = env.atrium.orm;
  const demo = (await env.workspace('demo')).id;
  const other = (await env.workspace('other')).id;
  await seedLocales(orm, demo, [
    { code: 'en', isDefault: true },
    { code: 'de', fallback: 'en' },
    { code: 'de-CH', fallback: 'de' },
  ]);
  const kb = (await ensureKnowledgeBaseType(orm.em.fork(), demo)).id;
  await seedEntry(orm, demo, {
    typeId: kb,
    key: 'returns',
    tags: ['orders'],
    values: {
      en: {
        question: 'How do I return an item?',
        answer: doc('Send it back within 30 days.', 'Refunds take 5 days.'),
      },
      de: {
        question: 'Wie sende ich einen Artikel zurück?',
        answer: doc('Innerhalb von 30 Tagen zurücksenden.'),
      },
      '*': { relatedProducts: ['SKU-1'], validFrom: '2020-01-01' },
    },
  });
  await seedEntry(orm, demo, {
    typeId: kb,
    key: 'refund-override',
    visibility: 'internal',
    values: { en: { question: 'How do agents override a refund?', answer: doc('Use the back office.') } },
  });
  await seedEntry(orm, demo, {
    typeId: kb,
    key: 'old-promo',
    values: { en: { question: 'Winter promo?', answer: doc('Over.') }, '*': { validUntil: '2021-01-31' } },
  });
  await seedEntry(orm, demo, {
    typeId: kb,
    key: 'next-year',
    values: { en: { question: 'Future promo?', answer: doc('Soon.') }, '*': { validFrom: '2999-01-01' } },
  });
  await seedEntry(orm, demo, {
    typeId: kb,
    key: 'unreviewed',
    published: false,
    values: { en: { question: 'Draft question?', answer: doc('Draft.') } },
  });
  const news = await seedType(orm, demo, { key: 'news', name: 'News', schemaOrgType: 'Article' });
  launchId = await seedEntry(orm, demo, {
    typeId: news,
    key: 'launch',
    values: {
      en: {
        title: 'We launched',
        description: 'Big <b>news</b> & more',
        body: doc('Today 5 < 6 <script>alert(1)</script>'),
      },
    },
  });
  const product = await seedType(orm, demo, { key: 'product', name: 'Products', schemaOrgType: 'Product' });
  await seedEntry(orm, demo, {
    typeId: product,
    key: 'trail-shoe',
    values: {
      en: { name: 'Trail shoe', description: 'Grippy.' },
      '*': {
        sku: 'TS-42',
        price: 129,
        currency: 'chf',
        brand: 'Atrium',
        image: { url: 'https://img.example.com/ts.png', mimeType: 'image/png', title: 'Shoe' },
      },
    },
  });
  await seedType(orm, demo, {
    key: 'step',
    isBlock: true,
    fields: [
      { key: 'title', kind: 'text' },
      { key: 'text', kind: 'text' },
    ],
  });
  const howto = await seedType(orm, demo, { key: 'guide', name: 'Guides', schemaOrgType: 'HowTo' });
  await seedEntry(orm, demo, {
    typeId: howto,
    key: 'reset-password',
    values: {
      en: {
        title: 'Reset your password',
        steps: [
          { type: 'step', fields: { title: 'Open settings', text: 'Click your avatar, then Settings.' } },
          { type: 'step', fields: { title: 'Reset', text: 'Choose Reset password.' } },
        ],
      },
    },
  });
  const org = await seedType(orm, demo, { key: 'company', name: 'Company', schemaOrgType: 'Organization' });
  await seedEntry(orm, demo, {
    typeId: org,
    key: 'about',
    values: {
      '*': {
        name: 'Atrium Shop AG',
        email: 'hello@example.com',
        logo: { url: 'https://img.example.com/logo.png', mimeType: 'image/png', title: 'Logo' },
      },
    },
  });
  const otherKb = (await ensureKnowledgeBaseType(orm.em.fork(), other)).id;
  await seedEntry(orm, other, {
    typeId: otherKb,
    key: 'other-secret',
    values: { en: { question: 'Only in other?', answer: doc('Yes.') } },
  });
});
after(() => env?.destroy());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${env.url}${path}`, { headers });

async function expandedTypes(path: string): Promise<{ doc: Record<string, any>; types: Set<string> }> {
  const response = await get(path);
  assert.equal(response.status, 200, `${path}: ${response.status}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/ld\+json/);
  const text = await response.text();
  assert.equal(text.includes('<'), false, 'no raw < in JSON-LD');
  const document = JSON.parse(text);
  // safe mode fails on anything the processor would drop: every property must map to an IRI.
  const expanded = await jsonld.expand(document, {
    documentLoader: offlineDocumentLoader,
    safe: true,
  } as never);
  const types = new Set<string>();
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === '@type') for (const t of [v].flat()) types.add(t as string);
        else walk(v);
      }
    }
  };
  walk(expanded);
  return { doc: document, types };
}

describe('JSON-LD', () => {
  test('a knowledge-base article is an FAQPage with its question and accepted answer', async () => {
    const { doc, types } = await expandedTypes('/content/demo/en/returns.jsonld');
    for (const t of ['FAQPage', 'Question', 'Answer']) assert.ok(types.has(`${S}${t}`), t);
    assert.equal(doc['@id'], `${BASE}/content/demo/en/returns.jsonld`);
    assert.equal(doc.mainEntity[0].name, 'How do I return an item?');
    assert.equal(
      doc.mainEntity[0].acceptedAnswer.text,
      'Send it back within 30 days.\n\nRefunds take 5 days.',
    );
  });

  test('Article, Product, HowTo and Organization expand to their schema.org types', async () => {
    const article = await expandedTypes('/content/demo/en/launch.jsonld');
    assert.ok(article.types.has(`${S}Article`));
    assert.equal(article.doc.description, 'Big news & more', 'tags are removed from text');
    const product = await expandedTypes('/content/demo/en/trail-shoe.jsonld');
    assert.ok(
      product.types.has(`${S}Product`) && product.types.has(`${S}Offer`) && product.types.has(`${S}Brand`),
    );
    assert.deepEqual(product.doc.offers, { '@type': 'Offer', price: '129.00', priceCurrency: 'CHF' });
    const howto = await expandedTypes('/content/demo/en/reset-password.jsonld');
    assert.ok(howto.types.has(`${S}HowTo`) && howto.types.has(`${S}HowToStep`));
    assert.deepEqual(
      howto.doc.step.map((s: { position: number; name: string }) => [s.position, s.name]),
      [
        [1, 'Open settings'],
        [2, 'Reset'],
      ],
    );
    const org = await expandedTypes('/content/demo/en/about.jsonld');
    assert.ok(org.types.has(`${S}Organization`));
    assert.equal(org.doc.logo, 'https://img.example.com/logo.png');
  });

  test('values fall back along the locale chain', async () => {
    const swiss = await expandedTypes('/content/demo/de-CH/returns.jsonld');
    assert.equal(swiss.doc.inLanguage, 'de-CH');
    assert.equal(swiss.doc.mainEntity[0].name, 'Wie sende ich einen Artikel zurück?');
    const launch = await expandedTypes('/content/demo/de-CH/launch.jsonld');
    assert.equal(launch.doc.headline, 'We launched');
  });

  test('internal, draft, expired, future, unknown and foreign content is not found', async () => {
    for (const path of [
      '/content/demo/en/refund-override.jsonld',
      '/content/demo/en/unreviewed.jsonld',
      '/content/demo/en/old-promo.jsonld',
      '/content/demo/en/next-year.jsonld',
      '/content/demo/en/nope.jsonld',
      '/content/demo/fr/returns.jsonld',
      '/content/other/en/returns.jsonld',
      '/content/demo/en/other-secret.jsonld',
      '/content/nowhere/en/returns.jsonld',
      '/content/demo/en/returns.html',
    ]) {
      const response = await get(path);
      assert.equal(response.status, 404, path);
      assert.equal(((await response.json()) as { code: string }).code, 'NOT_FOUND');
    }
  });

  test('the Markdown page escapes what could become HTML', async () => {
    const response = await get('/content/demo/en/launch.md');
    assert.match(response.headers.get('content-type') ?? '', /^text\/markdown/);
    const text = await response.text();
    assert.match(text, /^# We launched/);
    assert.equal(/<script|<b>/.test(text), false);
  });
});

describe('llms.txt', () => {
  test('lists published public valid entries per type and nothing else', async () => {
    const response = await get('/content/demo/llms.txt');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await response.text();
    const lines = text.split('\n');
    assert.equal(lines[0], '# demo');
    assert.ok(
      lines.some((l) => l.startsWith('> ')),
      'a summary',
    );
    assert.ok(text.includes('## Knowledge-base article'));
    assert.ok(text.includes('## Products'));
    assert.ok(
      text.includes(
        `- [How do I return an item?](${BASE}/content/demo/en/returns.md): Send it back within 30 days.`,
      ),
    );
    assert.ok(text.includes(`- [We launched](${BASE}/content/demo/en/launch.md): Big news &amp; more`));
    for (const hidden of ['refund-override', 'unreviewed', 'old-promo', 'next-year', 'other-secret'])
      assert.equal(text.includes(hidden), false, hidden);
    const links = lines.filter((l) => /^- \[[^\]]+\]\(https:\/\/[^)]+\)(: .*)?$/.test(l));
    assert.equal(links.length, 5, 'returns, launch, trail-shoe, reset-password, about');
  });

  test("another workspace's index shows only its own entries", async () => {
    const text = await (await get('/content/other/llms.txt')).text();
    assert.ok(text.includes('other-secret'));
    assert.equal(text.includes('returns'), false);
  });
});

describe('sitemap', () => {
  test('is well-formed XML with lastmod and hreflang alternates', async () => {
    const response = await get('/content/demo/sitemap.xml');
    assert.match(response.headers.get('content-type') ?? '', /^application\/xml/);
    const text = await response.text();
    assert.equal(XMLValidator.validate(text), true);
    const parsed = new XMLParser({ ignoreAttributes: false }).parse(text);
    const urls = [parsed.urlset.url].flat() as Record<string, any>[];
    const locs = urls.map((u) => u.loc as string);
    assert.ok(locs.includes(`${BASE}/content/demo/en/returns.md`));
    assert.ok(locs.includes(`${BASE}/content/demo/de/returns.md`));
    assert.equal(locs.length, 6, 'returns × en, de; launch, trail-shoe, reset-password, about × en');
    for (const u of urls) assert.ok(!Number.isNaN(Date.parse(u.lastmod)), 'lastmod');
    const returns = urls.find((u) => u.loc === `${BASE}/content/demo/en/returns.md`) as Record<string, any>;
    const hreflangs = [returns['xhtml:link']].flat().map((l: Record<string, string>) => l['@_hreflang']);
    assert.deepEqual(hreflangs, ['en', 'de', 'x-default']);
    assert.equal(/refund-override|unreviewed|old-promo|other-secret/.test(text), false);
  });
});

describe('caching', () => {
  test('Cache-Control and ETag; 304 when unchanged; a new published version changes the ETag', async () => {
    for (const path of [
      '/content/demo/llms.txt',
      '/content/demo/sitemap.xml',
      '/content/demo/en/launch.jsonld',
    ]) {
      const first = await get(path);
      assert.equal(first.headers.get('cache-control'), 'public, max-age=300');
      const etag = first.headers.get('etag') as string;
      assert.match(etag, /^"[\w-]+"$/);
      const again = await get(path, { 'if-none-match': etag });
      assert.equal(again.status, 304, path);
      assert.equal(await again.text(), '');
      assert.equal(
        (await get(path, { 'if-none-match': `W/${etag}, "other"` })).status,
        304,
        'weak and listed tags match',
      );
    }
    const before = (await get('/content/demo/en/launch.jsonld')).headers.get('etag') as string;
    const llmsBefore = (await get('/content/demo/llms.txt')).headers.get('etag') as string;
    await republish(env.atrium.orm, launchId, { en: { title: 'We launched v2' } });
    const after = await get('/content/demo/en/launch.jsonld', { 'if-none-match': before });
    assert.equal(after.status, 200);
    assert.notEqual(after.headers.get('etag'), before);
    assert.equal(((await after.json()) as { headline: string }).headline, 'We launched v2');
    assert.notEqual((await get('/content/demo/llms.txt')).headers.get('etag'), llmsBefore);
  });
});

describe('rate limit', () => {
  test('answers 429 with Retry-After beyond the configured rate', async () => {
    const limited = await createTestEnvironment({ settings: { PUBLIC_CONTENT_RATE_PER_SECOND: '2' } });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const response = await fetch(`${limited.url}/content/demo/llms.txt`);
        statuses.push(response.status);
        if (response.status === 429) retryAfter = response.headers.get('retry-after');
        await response.arrayBuffer();
      }
      assert.deepEqual(statuses.slice(0, 2), [200, 200]);
      assert.ok(statuses.includes(429));
      assert.ok(Number(retryAfter) >= 1);
    } finally {
      await limited.destroy();
    }
  });
});
