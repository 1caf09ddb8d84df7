import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { reindex } from '../cli/reindex.ts';
import { recordEvent } from '../kernel/events.ts';
import { type DataSubjectContext, definePlugin } from '../kernel/plugin.ts';
import type { WorkspaceEntity } from '../modules/workspaces/entities.ts';
import { createTestEnvironment, type TestEnvironment, waitFor } from '../testing/index.ts';
import { searchModule } from './index.ts';
import { progressBar, type SearchSource } from './indexing.ts';

// A tiny source over an in-memory "table": what the content module does with its entries.
const notes = new Map<
  string,
  { workspaceId: string; text: string; published: boolean; profileId?: string }
>();
const noteSource: SearchSource = {
  collection: 'notes',
  settings: { searchable: ['text'], filterable: ['profileId'], localized: ['en'] },
  async documentsFor(_em, workspaceId, ids) {
    return ids.flatMap((id) => {
      const note = notes.get(id);
      if (!note || note.workspaceId !== workspaceId || !note.published) return [];
      return [
        { id, locale: 'en', fields: { text: note.text }, filters: { profileId: note.profileId ?? null } },
      ];
    });
  },
  async allIds(_em, workspaceId) {
    return [...notes].filter(([, n]) => n.workspaceId === workspaceId && n.published).map(([id]) => id);
  },
  indexOn: [{ event: 'content.published' }, { event: 'content.unpublished' }],
};
const notesPlugin = definePlugin(() => ({
  name: 'notes',
  compatibility: '^1.0.0',
  searchSources: [noteSource],
}));

let env: TestEnvironment;
let demo: WorkspaceEntity;
before(async () => {
  env = await createTestEnvironment({ plugins: [notesPlugin()] });
  demo = await env.workspace('demo');
});
after(() => env?.destroy());

const find = (query: string) =>
  env.atrium.search.search({ workspaceId: demo.id, collections: ['notes'], query });

async function publish(type: 'content.published' | 'content.unpublished', entryId: string) {
  const em = env.em();
  recordEvent(em, {
    type,
    workspaceId: demo.id,
    subject: entryId,
    payload: { entryId, key: entryId, type: 'note', locales: ['en'] },
  });
  await em.flush();
}

test('content.published and content.unpublished reach the index through search.index jobs', async () => {
  const id = randomUUID();
  notes.set(id, { workspaceId: demo.id, text: 'The lighthouse keeper returns at dawn', published: true });
  await publish('content.published', id);
  await waitFor(
    async () => (await find('lighthouse')).hits[0]?.id === id || undefined,
    15000,
    'the note to be indexed',
  );

  const note = notes.get(id);
  if (note) note.published = false;
  await publish('content.unpublished', id);
  await waitFor(
    async () => (await find('lighthouse')).hits.length === 0 || undefined,
    15000,
    'the note to leave',
  );
});

test('reindex rebuilds a dropped collection from allIds, with a progress bar', async () => {
  for (let i = 0; i < 450; i++) {
    notes.set(`bulk-${i}`, { workspaceId: demo.id, text: `Harbour report number ${i}`, published: true });
  }
  await env.atrium.search.drop(demo.id, 'notes');
  assert.equal((await find('harbour')).total, 0);

  let printed = '';
  const progress = new Writable({
    write(chunk, _enc, done) {
      printed += chunk;
      done();
    },
  });
  const counts = await reindex({
    orm: env.atrium.orm,
    search: env.atrium.search,
    sources: [noteSource],
    workspace: 'demo',
    collection: 'notes',
    progress,
  });
  assert.equal(counts['demo/notes'], 450);
  assert.equal((await find('harbour')).total, 450);
  assert.match(printed, /demo\/notes\s+\[#+\] 450\/450/);
  assert.match(printed, /demo\/notes\s+\[-+\] 0\/450/);
  await assert.rejects(
    reindex({ orm: env.atrium.orm, search: env.atrium.search, sources: [noteSource], collection: 'nope' }),
    /no search source for collection "nope"/,
  );
});

test('progressBar draws done/total', () => {
  assert.equal(progressBar('content', 512, 1024, 10), 'content      [#####-----] 512/1024');
});

test("erasure removes a person's documents in the erasure's transaction", async () => {
  const profileId = randomUUID();
  notes.set('about-anna', {
    workspaceId: demo.id,
    text: 'Quillon asked for a callback',
    published: true,
    profileId,
  });
  notes.set('about-else', {
    workspaceId: demo.id,
    text: 'Someone else asked for a callback',
    published: true,
  });
  await env.atrium.search.index(
    demo.id,
    'notes',
    await noteSource.documentsFor(env.em(), demo.id, ['about-anna', 'about-else']),
  );
  assert.equal((await find('callback')).total, 2);

  const em = env.em();
  const erase = searchModule.eraseProfile as NonNullable<typeof searchModule.eraseProfile>;
  const removed = await em.transactional((tem) =>
    erase(profileId, {
      search: env.atrium.search,
      em: tem,
      workspaceId: demo.id,
      profileIds: [profileId],
      mentions: [],
    } as unknown as DataSubjectContext<undefined>),
  );
  assert.equal(removed, 1);
  assert.deepEqual(
    (await find('callback')).hits.map((h) => h.id),
    ['about-else'],
  );
  assert.equal((await find('Quillon')).total, 0);
});
