import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type SearchEngine, SearchError, type SearchQuery } from './engine.ts';
import { corpus, corpusDocuments, corpusSettings } from './fixtures/corpus.ts';

export interface ContractOptions {
  /**
   * Whether the engine reduces words to their stem (PostgreSQL does; Meilisearch matches by
   * prefix and typo tolerance instead, so "returning" does not find "return" there).
   */
  stemming: boolean;
}

/**
 * The behaviour every `SearchEngine` must show, as node:test tests over the shipped German and
 * English help-centre corpus: relevance, stemming, typos, filters, locale, highlights, synonyms,
 * workspace isolation, removal, erasure, drop and reindex. `start` gives a fresh engine.
 */
export function defineSearchContract(
  name: string,
  start: () => Promise<{ engine: SearchEngine; stop(): Promise<void> }>,
  options: ContractOptions,
): void {
  describe(`SearchEngine contract: ${name}`, () => {
    let engine: SearchEngine;
    let stop: () => Promise<void> = async () => {};
    const ws = randomUUID();
    const otherWs = randomUUID();
    const search = (query: string, more: Partial<SearchQuery> = {}) =>
      engine.search({ workspaceId: ws, collections: ['knowledge'], query, ...more });
    const ids = (hits: { id: string }[]) => hits.map((h) => h.id);

    before(async () => {
      ({ engine, stop } = await start());
      await engine.ensureCollection(ws, 'knowledge', corpusSettings);
      await engine.index(ws, 'knowledge', corpusDocuments());
    });
    after(async () => {
      await engine?.drop(ws, 'knowledge').catch(() => {});
      await engine?.drop(ws, 'conversations').catch(() => {});
      await engine?.drop(otherWs, 'knowledge').catch(() => {});
      await stop();
    });

    test('the article whose title is the query ranks first', async () => {
      const result = await search('password', { locale: 'en' });
      assert.equal(result.hits[0]?.id, 'password-reset', JSON.stringify(ids(result.hits)));
      assert.ok(ids(result.hits).includes('account-delete'), 'the other article mentioning password');
      assert.ok(result.total >= 2);
      assert.ok(result.tookMs >= 0);
    });

    test('stemming: English "returning" finds the article about "return"', {
      skip: !options.stemming && 'this engine does not stem',
    }, async () => {
      const result = await search('returning', { locale: 'en' });
      assert.ok(ids(result.hits).includes('return-policy'), JSON.stringify(ids(result.hits)));
    });

    test('stemming: German "Rücksendungen" finds the article about "Rücksendung"', async () => {
      const result = await search('Rücksendungen', { locale: 'de' });
      assert.equal(result.hits[0]?.id, 'return-policy', JSON.stringify(ids(result.hits)));
    });

    test('typos: "retrun" finds "return", "Rechnug" finds "Rechnung"', async () => {
      const en = await search('retrun', { locale: 'en' });
      assert.equal(en.hits[0]?.id, 'return-policy', JSON.stringify(ids(en.hits)));
      const de = await search('Rechnug', { locale: 'de' });
      assert.ok(ids(de.hits).includes('invoice'), JSON.stringify(ids(de.hits)));
    });

    test('filters: equality, "contains" on a list attribute and "any of"', async () => {
      const all = await search('refund', { locale: 'en' });
      assert.ok(ids(all.hits).includes('refund-override'), 'internal articles match without the filter');
      const publicOnly = await search('refund', { locale: 'en', filters: { visibility: 'public' } });
      assert.ok(ids(publicOnly.hits).includes('refund'));
      assert.ok(!ids(publicOnly.hits).includes('refund-override'));

      const billing = await search('payment', { locale: 'en', filters: { tags: 'billing' } });
      assert.ok(billing.hits.length > 0);
      for (const hit of billing.hits) {
        assert.ok(tagsOf(hit.id).includes('billing'), `${hit.id} is not tagged billing`);
      }
      const anyOf = await search('', { locale: 'en', filters: { tags: ['privacy', 'stores'] }, limit: 50 });
      assert.deepEqual(ids(anyOf.hits).sort(), ['account-delete', 'newsletter', 'store-pickup']);
      assert.equal(anyOf.total, 3);
    });

    test('a filter on an attribute that is not filterable is a typed error', async () => {
      await assert.rejects(
        search('refund', { filters: { body: 'x' } }),
        (error) => error instanceof SearchError && error.code === 'SEARCH_INVALID_FILTER',
      );
    });

    test('locale: a German query with locale de returns German articles only', async () => {
      const result = await search('Rechnung Kundenkonto', { locale: 'de' });
      assert.ok(result.hits.length > 0);
      assert.ok(
        result.hits.every((h) => h.locale === 'de'),
        JSON.stringify(result.hits),
      );
      const en = await search('account', { locale: 'en' });
      assert.ok(en.hits.length > 0 && en.hits.every((h) => h.locale === 'en'));
    });

    test('highlights mark the matched words', async () => {
      const result = await search('invoice', { locale: 'en' });
      const top = result.hits[0];
      assert.equal(top?.id, 'invoice');
      assert.match(top?.highlights.title ?? '', /<mark>invoice<\/mark>/i);
      assert.match(top?.highlights.body ?? '', /<mark>invoice<\/mark>/i);
    });

    test('synonyms: "voucher" finds the article about gift cards', async () => {
      const result = await search('voucher', { locale: 'en' });
      assert.ok(ids(result.hits).includes('gift-cards'), JSON.stringify(ids(result.hits)));
    });

    test('limit and offset page through the hits', async () => {
      const first = await search('', { locale: 'en', sort: ['title:asc'], limit: 5 });
      const second = await search('', { locale: 'en', sort: ['title:asc'], limit: 5, offset: 5 });
      assert.equal(first.total, 16);
      assert.equal(first.hits.length, 5);
      assert.equal(second.hits.length, 5);
      assert.equal(
        ids([...first.hits, ...second.hits]).length,
        new Set(ids([...first.hits, ...second.hits])).size,
      );
      assert.equal(first.hits[0]?.id, 'store-pickup', 'sorted by title: "Click and collect" first');
    });

    test('workspaces are isolated', async () => {
      assert.equal((await engine.search({ workspaceId: otherWs, query: 'invoice' })).hits.length, 0);
      await engine.ensureCollection(otherWs, 'knowledge', corpusSettings);
      await engine.index(otherWs, 'knowledge', [
        { id: 'invoice', locale: 'en', fields: { title: 'Elsewhere', body: 'Nothing about bills' } },
      ]);
      const mine = await search('invoice', { locale: 'en' });
      assert.equal(mine.hits[0]?.id, 'invoice');
      const theirs = await engine.search({ workspaceId: otherWs, query: 'invoice', locale: 'en' });
      assert.equal(theirs.hits.length, 0);
      const elsewhere = await engine.search({ workspaceId: otherWs, query: 'elsewhere' });
      assert.deepEqual(ids(elsewhere.hits), ['invoice']);
      assert.equal((await search('elsewhere')).hits.length, 0);
    });

    test('remove takes a document out in every locale', async () => {
      await engine.remove(ws, 'knowledge', ['warranty']);
      assert.equal((await search('warranty', { locale: 'en' })).hits.length, 0);
      assert.equal((await search('Gewährleistung', { locale: 'de' })).hits.length, 0);
      assert.ok((await search('invoice', { locale: 'en' })).hits.length > 0, 'other documents stay');
    });

    test('removeWhere erases every document of a person across collections', async () => {
      await engine.ensureCollection(ws, 'conversations', {
        searchable: ['transcript'],
        filterable: ['profileId'],
        localized: ['en'],
      });
      await engine.index(ws, 'conversations', [
        {
          id: 'c1',
          locale: 'en',
          fields: { transcript: 'Zebulon asked about his parcel' },
          filters: { profileId: 'p1' },
        },
        {
          id: 'c2',
          locale: 'en',
          fields: { transcript: 'Zebulon again, parcel lost' },
          filters: { profileId: 'p1' },
        },
        {
          id: 'c3',
          locale: 'en',
          fields: { transcript: 'Another parcel question' },
          filters: { profileId: 'p2' },
        },
      ]);
      const removed = await engine.removeWhere(ws, { profileId: 'p1' });
      assert.ok(removed === 2 || removed === -1, `removed ${removed}`);
      const left = await engine.search({ workspaceId: ws, collections: ['conversations'], query: 'parcel' });
      assert.deepEqual(ids(left.hits), ['c3']);
      const name = await engine.search({ workspaceId: ws, collections: ['conversations'], query: 'Zebulon' });
      assert.equal(name.hits.length, 0);
      const typo = await engine.search({ workspaceId: ws, collections: ['conversations'], query: 'Zebulom' });
      assert.equal(typo.hits.length, 0);
    });

    test('drop empties the collection and reindexing brings it back', async () => {
      await engine.drop(ws, 'knowledge');
      assert.equal((await search('invoice')).hits.length, 0);
      await engine.ensureCollection(ws, 'knowledge', corpusSettings);
      await engine.index(ws, 'knowledge', corpusDocuments());
      const back = await search('invoice', { locale: 'en' });
      assert.equal(back.hits[0]?.id, 'invoice');
      assert.equal((await search('', { limit: 100 })).total, corpus.length);
    });
  });
}

function tagsOf(id: string): string[] {
  return corpus.find((a) => a.id === id)?.tags ?? [];
}
