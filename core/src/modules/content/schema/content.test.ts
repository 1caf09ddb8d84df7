import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { devTokenSecret, signDevToken } from '../../../auth/dev-tokens.ts';
import { sql } from '../../../db/sql.ts';
import { createTestEnvironment, type TestEnvironment, waitFor } from '../../../testing/index.ts';
import { RUN_CONTENT_SCHEDULE } from '../service/schedule.ts';

let env: TestEnvironment;
after(() => env?.destroy());

/** A client acting as `subject` with `role` in `workspace`: the workflow tells people apart. */
const as = (role: string, subject = `dev-${role}`, workspace = 'demo') =>
  env.adminClient.withToken(signDevToken(devTokenSecret(env.dataDir), { role, workspace, subject }));

const ENTRY = `entry { id key status workingVersion publishedVersion publishedBy }`;
const payload = (name: string) =>
  `... on ${name[0]?.toUpperCase()}${name.slice(1)}Payload { ${ENTRY} } ... on Error { __typename code message } ... on ValidationError { field }`;

async function mutate(client: ReturnType<typeof as>, name: string, input: Record<string, unknown>) {
  const data = await client.ok(
    `mutation ($input: ${name[0]?.toUpperCase()}${name.slice(1)}Input!) { ${name}(input: $input) { ${payload(name)} } }`,
    {
      input,
    },
  );
  return data[name];
}

/** The database id behind a relay global id. */
const rawId = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1] as string;

const editor = () => as('editor', 'erika');
const reviewer = () => as('reviewer', 'rita');
const admin = () => as('admin', 'anna');

async function setLocales(client = admin()) {
  for (const [code, fallback] of [
    ['en', null],
    ['de', 'en'],
    ['de-CH', 'de'],
  ] as const) {
    const data = await client.ok(
      `mutation ($input: SetLocaleInput!) { setLocale(input: $input) { ... on SetLocalePayload { locale { code chain isDefault } } ... on ValidationError { field message } } }`,
      { input: { code, fallback } },
    );
    assert.ok(data.setLocale.locale, JSON.stringify(data));
  }
}

async function createType(client: ReturnType<typeof as>, input: Record<string, unknown>) {
  const data = await client.ok(
    `mutation ($input: CreateContentTypeInput!) { createContentType(input: $input) {
      ... on CreateContentTypePayload { contentType { id key fields { key kind } } }
      ... on ValidationError { field message } } }`,
    { input },
  );
  return data.createContentType;
}

before(async () => {
  env = await createTestEnvironment();
  await setLocales();
  const blocks = await createType(admin(), {
    key: 'image',
    name: 'Image block',
    isBlock: true,
    fields: [
      { key: 'asset', kind: 'ASSET', required: true },
      { key: 'caption', kind: 'TEXT', maxLength: 20 },
    ],
  });
  assert.ok(blocks.contentType, JSON.stringify(blocks));
  const product = await createType(admin(), {
    key: 'product',
    name: 'Product',
    schemaOrgType: 'Product',
    fields: [{ key: 'name', kind: 'TEXT', required: true, localized: true }],
  });
  assert.ok(product.contentType, JSON.stringify(product));
  const page = await createType(admin(), {
    key: 'page',
    name: 'Page',
    fields: [
      { key: 'title', kind: 'TEXT', required: true, localized: true, maxLength: 80 },
      { key: 'body', kind: 'RICH_TEXT', localized: true },
      { key: 'price', kind: 'NUMBER', min: 0 },
      { key: 'featured', kind: 'BOOLEAN' },
      { key: 'validFrom', kind: 'DATE' },
      { key: 'product', kind: 'REFERENCE', referenceTypes: ['product'] },
      { key: 'hero', kind: 'ASSET' },
      { key: 'sections', kind: 'BLOCKS', localized: true, blockTypes: ['image'] },
      { key: 'extra', kind: 'JSON' },
    ],
  });
  assert.ok(page.contentType, JSON.stringify(page));
});

const doc = (text: string) => ({
  type: 'doc',
  children: [{ type: 'paragraph', children: [{ text, marks: ['bold'] }] }],
});
const image = (caption: string, url = 'https://cdn.example.com/a.png') => ({
  type: 'image',
  fields: { asset: { url, mimeType: 'image/png', title: 'A', width: 10 }, caption },
});

test('content types: definitions are checked and named by position', async () => {
  const bad = await createType(admin(), {
    key: 'broken',
    name: 'Broken',
    fields: [
      { key: 'title', kind: 'TEXT' },
      { key: 'link', kind: 'REFERENCE', referenceTypes: ['nope'] },
    ],
  });
  assert.equal(bad.field, 'fields[1].referenceTypes');
  const twice = await createType(admin(), {
    key: 'broken',
    name: 'Broken',
    fields: [
      { key: 'title', kind: 'TEXT' },
      { key: 'title', kind: 'NUMBER' },
    ],
  });
  assert.equal(twice.field, 'fields[1].key');
  const misplaced = await createType(admin(), {
    key: 'broken',
    name: 'Broken',
    fields: [{ key: 'n', kind: 'NUMBER', maxLength: 3 }],
  });
  assert.equal(misplaced.field, 'fields[0].maxLength');
  const listed = await as('viewer').ok('{ contentTypes(isBlock: false) { key schemaOrgType } }');
  assert.deepEqual(
    listed.contentTypes.map((t: { key: string }) => t.key),
    ['page', 'product'],
  );
});

test('every field kind is validated on write and the error names the field path', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ en: { title: 42 } }, 'fields.en.title'],
    [{ en: { title: 'x'.repeat(81) } }, 'fields.en.title'],
    [{ en: { title: 'Hi', body: '<p>raw html</p>' } }, 'fields.en.body'],
    [{ en: { title: 'Hi', body: doc('<script>x</script>') } }, 'fields.en.body.children[0].children[0].text'],
    [
      { en: { title: 'Hi', body: { type: 'doc', children: [{ type: 'table', children: [] }] } } },
      'fields.en.body.children[0].type',
    ],
    [{ en: { title: 'Hi' }, '*': { price: -1 } }, 'fields.*.price'],
    [{ en: { title: 'Hi' }, '*': { price: '12' } }, 'fields.*.price'],
    [{ en: { title: 'Hi' }, '*': { featured: 'yes' } }, 'fields.*.featured'],
    [{ en: { title: 'Hi' }, '*': { validFrom: '01.03.2026' } }, 'fields.*.validFrom'],
    [{ en: { title: 'Hi' }, '*': { product: 'no-such-entry' } }, 'fields.*.product'],
    [
      { en: { title: 'Hi' }, '*': { hero: { url: 'ftp://x/y.png', mimeType: 'image/png', title: 'A' } } },
      'fields.*.hero.url',
    ],
    [
      { en: { title: 'Hi' }, '*': { hero: { url: 'https://x/y.png', mimeType: 'png', title: 'A' } } },
      'fields.*.hero.mimeType',
    ],
    [
      { en: { title: 'Hi', sections: [image('ok'), image('ok'), image('a caption far too long')] } },
      'fields.en.sections[2].fields.caption',
    ],
    [{ en: { title: 'Hi', sections: [{ type: 'video', fields: {} }] } }, 'fields.en.sections[0].type'],
    [
      { en: { title: 'Hi', sections: [{ type: 'image', fields: { caption: 'x' } }] } },
      'fields.en.sections[0].fields.asset',
    ],
    [{ de: { title: 'Hallo' } }, 'fields.en.title'],
    [{ fr: { title: 'Salut' } }, 'fields.fr'],
    [{ en: { title: 'Hi', price: 3 } }, 'fields.en.price'],
    [{ en: { title: 'Hi', nope: 1 } }, 'fields.en.nope'],
  ];
  for (const [fields, field] of cases) {
    const result = await mutate(editor(), 'createEntry', { type: 'page', key: 'bad', fields });
    assert.equal(
      result.__typename,
      'ValidationError',
      `${JSON.stringify(fields)} → ${JSON.stringify(result)}`,
    );
    assert.equal(result.field, field, `${JSON.stringify(fields)}: ${result.message}`);
  }
  const [count] = await sql<{ n: string }>(
    env.em(),
    `select count(*) as n from content_entry where key = 'bad'`,
  );
  assert.equal(Number(count?.n), 0, 'nothing was written');

  const json = await mutate(editor(), 'createEntry', {
    type: 'page',
    key: 'every-kind',
    fields: {
      en: { title: 'All kinds', body: doc('Hello'), sections: [image('Nice')] },
      '*': { price: 9.5, featured: true, validFrom: '2026-03-01', extra: { any: ['thing'] } },
    },
  });
  assert.equal(json.entry.status, 'DRAFT', JSON.stringify(json));
});

test('locales: fallback chains resolve per field and cycles are refused', async () => {
  const cycle = await admin().ok(
    `mutation { setLocale(input: { code: "en", fallback: "de-CH" }) { __typename ... on ValidationError { field message } } }`,
  );
  assert.equal(cycle.setLocale.field, 'fallback');
  assert.match(cycle.setLocale.message, /en → de-CH → de → en/);
  const locales = await as('viewer').ok('{ locales { code fallback isDefault chain } }');
  assert.deepEqual(
    locales.locales.find((l: { code: string }) => l.code === 'de-CH'),
    { code: 'de-CH', fallback: 'de', isDefault: false, chain: ['de-CH', 'de', 'en'] },
  );

  const created = await mutate(editor(), 'createEntry', {
    type: 'page',
    key: 'locales/home',
    fields: { en: { title: 'Home', body: doc('Welcome') }, de: { title: 'Startseite' }, '*': { price: 1 } },
  });
  const read = await as('viewer').ok(
    `query ($id: ID!) { entry(id: $id) { localized(locale: "de-CH") { locale chain fields sources { field locale } } } }`,
    { id: created.entry.id },
  );
  const localized = read.entry.localized;
  assert.deepEqual(localized.chain, ['de-CH', 'de', 'en']);
  assert.deepEqual(localized.fields, { title: 'Startseite', body: doc('Welcome'), price: 1 });
  assert.deepEqual(localized.sources, [
    { field: 'title', locale: 'de' },
    { field: 'body', locale: 'en' },
    { field: 'price', locale: null },
  ]);
});

async function draft(key: string, title = 'Title', extra: Record<string, unknown> = {}) {
  const created = await mutate(editor(), 'createEntry', {
    type: 'page',
    key,
    fields: { en: { title }, ...extra },
  });
  assert.ok(created.entry, JSON.stringify(created));
  return created.entry.id as string;
}

async function publish(key: string, extra: Record<string, unknown> = {}, title = 'Title') {
  const id = await draft(key, title, extra);
  assert.equal((await mutate(editor(), 'submitEntry', { id })).entry.status, 'IN_REVIEW');
  assert.equal((await mutate(reviewer(), 'approveEntry', { id })).entry.status, 'APPROVED');
  const published = await mutate(editor(), 'publishEntry', { id });
  assert.equal(published.entry.status, 'PUBLISHED');
  return id;
}

test('workflow: roles, four eyes, and what each transition records', async () => {
  const id = await draft('workflow/one');
  const early = await mutate(editor(), 'publishEntry', { id });
  assert.equal(early.__typename, 'ValidationError', 'a draft is not published');
  await mutate(editor(), 'submitEntry', { id });

  const byEditor = await editor().query(
    `mutation ($id: ID!) { approveEntry(input: { id: $id }) { __typename } }`,
    { id },
  );
  assert.equal(byEditor.errors?.[0]?.extensions?.code, 'FORBIDDEN', 'editors cannot approve');

  // Someone who is both editor and reviewer cannot approve their own submission…
  const both = await mutate(as('reviewer', 'erika'), 'approveEntry', { id });
  assert.equal(both.__typename, 'ForbiddenError');
  const rejectedWithout = await reviewer().query(
    `mutation ($id: ID!) { rejectEntry(input: { id: $id, comment: "  " }) { __typename ... on ValidationError { field } } }`,
    { id },
  );
  assert.equal(rejectedWithout.data?.rejectEntry.field, 'comment');
  const rejected = await mutate(reviewer(), 'rejectEntry', { id, comment: 'Title too vague' });
  assert.equal(rejected.entry.status, 'DRAFT');

  await mutate(editor(), 'submitEntry', { id });
  assert.equal((await mutate(reviewer(), 'approveEntry', { id })).entry.status, 'APPROVED');
  const published = await mutate(editor(), 'publishEntry', { id });
  assert.deepEqual(
    { status: published.entry.status, v: published.entry.publishedVersion, by: published.entry.publishedBy },
    { status: 'PUBLISHED', v: 1, by: 'erika' },
  );

  // …while an admin may approve their own (a one-person workspace can still publish).
  const own = await draft('workflow/admin-own');
  await mutate(admin(), 'submitEntry', { id: own });
  assert.equal((await mutate(admin(), 'approveEntry', { id: own })).entry.status, 'APPROVED');

  const history = await as('viewer').ok(
    `query ($id: ID!) { entry(id: $id) { transitions { fromStatus toStatus actor comment version } } }`,
    { id },
  );
  assert.deepEqual(
    history.entry.transitions.map((t: Record<string, unknown>) => `${t.fromStatus}>${t.toStatus}:${t.actor}`),
    [
      'DRAFT>IN_REVIEW:erika',
      'IN_REVIEW>DRAFT:rita',
      'DRAFT>IN_REVIEW:erika',
      'IN_REVIEW>APPROVED:rita',
      'APPROVED>PUBLISHED:erika',
    ],
  );
  assert.equal(history.entry.transitions[1].comment, 'Title too vague');

  const events = await sql<{ type: string; payload: Record<string, unknown> }>(
    env.em(),
    `select type, payload from outbox_event where subject = $1 order by occurred_at, type`,
    [rawId(id)],
  );
  assert.deepEqual(
    events.map((e) => e.type),
    ['content.submitted', 'content.rejected', 'content.submitted', 'content.approved', 'content.published'],
  );
  assert.deepEqual(events.at(-1)?.payload, {
    entryId: rawId(id),
    key: 'workflow/one',
    type: 'page',
    locales: ['en'],
    version: 1,
    visibility: 'public',
  });
});

test('editing a published entry makes a new working version; the published one stays readable', async () => {
  const id = await publish('edit/live', {}, 'Live title');
  const reader = await readerClient();
  const updated = await mutate(editor(), 'updateEntry', { id, fields: { en: { title: 'Next title' } } });
  assert.deepEqual(
    {
      status: updated.entry.status,
      working: updated.entry.workingVersion,
      published: updated.entry.publishedVersion,
    },
    { status: 'DRAFT', working: 2, published: 1 },
  );
  const live = await reader.ok(`{ publishedEntry(key: "edit/live", locale: "en") { version fields } }`);
  assert.deepEqual(live.publishedEntry, { version: 1, fields: { title: 'Live title' } });
  const versions = await as('viewer').ok(
    `query ($id: ID!) { entry(id: $id) { versions { version fields } } }`,
    { id },
  );
  assert.deepEqual(
    versions.entry.versions.map((v: { version: number }) => v.version),
    [2, 1],
  );

  await mutate(editor(), 'submitEntry', { id });
  await mutate(reviewer(), 'approveEntry', { id });
  await mutate(editor(), 'publishEntry', { id });
  const next = await reader.ok(`{ publishedEntry(key: "edit/live") { version fields } }`);
  assert.deepEqual(next.publishedEntry, { version: 2, fields: { title: 'Next title' } });

  const unpublished = await mutate(editor(), 'unpublishEntry', { id });
  assert.deepEqual([unpublished.entry.status, unpublished.entry.publishedVersion], ['APPROVED', null]);
  assert.equal((await reader.ok(`{ publishedEntry(key: "edit/live") { key } }`)).publishedEntry, null);
});

test('references: targets must exist and be of an allowed type; referenced entries cannot be archived', async () => {
  const product = await mutate(editor(), 'createEntry', {
    type: 'product',
    key: 'products/tea',
    fields: { en: { name: 'Tea' } },
  });
  const wrongType = await mutate(editor(), 'createEntry', {
    type: 'page',
    key: 'refs/wrong',
    fields: { en: { title: 'x' }, '*': { product: 'locales/home' } },
  });
  assert.equal(wrongType.field, 'fields.*.product');
  assert.match(wrongType.message, /is a page; allowed: product/);

  const pageId = await publish('refs/tea-page', { '*': { product: 'products/tea' } });
  const version = await as('viewer').ok(`query ($id: ID!) { entry(id: $id) { versions { references } } }`, {
    id: pageId,
  });
  const [row] = await sql<{ id: string }>(
    env.em(),
    `select id from content_entry where key = 'products/tea'`,
  );
  assert.deepEqual(version.entry.versions[0].references, [row?.id]);

  const archived = await mutate(editor(), 'archiveEntry', { id: product.entry.id });
  assert.equal(archived.__typename, 'ValidationError');
  assert.match(archived.message, /referenced by refs\/tea-page/);
  const still = await sql<{ status: string }>(
    env.em(),
    `select status from content_entry where key = 'products/tea'`,
  );
  assert.equal(still[0]?.status, 'draft', 'a refused archive changes nothing');

  assert.equal((await mutate(editor(), 'archiveEntry', { id: pageId })).entry.status, 'ARCHIVED');
  assert.equal((await mutate(editor(), 'archiveEntry', { id: product.entry.id })).entry.status, 'ARCHIVED');
});

test('the schedule job publishes approved entries when their time comes and unpublishes expired ones', async () => {
  const id = await draft('scheduled/launch');
  const past = new Date(Date.now() - 1000).toISOString();
  await mutate(editor(), 'scheduleEntry', { id, publishAt: past });
  await env.atrium.jobs.send(RUN_CONTENT_SCHEDULE, {});
  await new Promise((resolve) => setTimeout(resolve, 500));
  const [early] = await sql<{ status: string }>(env.em(), `select status from content_entry where id = $1`, [
    rawId(id),
  ]);
  assert.equal(early?.status, 'draft', 'only approved entries are published by the schedule');

  await mutate(editor(), 'submitEntry', { id });
  await mutate(reviewer(), 'approveEntry', { id });
  await env.atrium.jobs.send(RUN_CONTENT_SCHEDULE, {});
  const published = await waitFor(
    async () => {
      const [row] = await sql<{ status: string; published_by: string }>(
        env.em(),
        `select status, published_by from content_entry where id = $1 and status = 'published'`,
        [rawId(id)],
      );
      return row;
    },
    15000,
    'scheduled publish',
  );
  assert.equal(published.published_by, 'scheduler');

  const bad = await mutate(editor(), 'scheduleEntry', {
    id,
    publishAt: past,
    unpublishAt: new Date(Date.now() - 5000).toISOString(),
  });
  assert.equal(bad.field, 'unpublishAt');
  await mutate(editor(), 'scheduleEntry', {
    id,
    publishAt: null,
    unpublishAt: new Date(Date.now() - 100).toISOString(),
  });
  await env.atrium.jobs.send(RUN_CONTENT_SCHEDULE, {});
  await waitFor(
    async () => {
      const [row] = await sql<{ id: string }>(
        env.em(),
        `select id from content_entry where id = $1 and published_version is null`,
        [rawId(id)],
      );
      return row;
    },
    15000,
    'scheduled unpublish',
  );
  const types = await sql<{ type: string }>(
    env.em(),
    `select type from outbox_event where subject = $1 and type like 'content.%publish%' order by occurred_at`,
    [rawId(id)],
  );
  assert.deepEqual(
    types.map((t) => t.type),
    ['content.published', 'content.unpublished'],
  );
});

async function readerClient(workspace = 'demo') {
  const data = await as('admin', 'anna', workspace).ok(
    `mutation { createApiKey(input: { name: "web shop", role: READER }) { ... on CreateApiKeyPayload { secret } } }`,
  );
  return env.publicClient.withToken(data.createApiKey.secret);
}

test('a READER key reads published public content on the Public graph, and nothing else', async () => {
  await publish('public/faq', { de: { title: 'Häufige Fragen' } }, 'FAQ');
  const internal = await publish('public/internal-note', {}, 'Agents only');
  await mutate(editor(), 'updateEntry', { id: internal, visibility: 'INTERNAL' });
  await draft('public/draft');
  const reader = await readerClient();

  const one = await reader.ok(
    `{ publishedEntry(key: "public/faq", locale: "de-CH") { key type locale fields sources { field locale } } }`,
  );
  assert.deepEqual(one.publishedEntry, {
    key: 'public/faq',
    type: 'page',
    locale: 'de-CH',
    fields: { title: 'Häufige Fragen' },
    sources: [{ field: 'title', locale: 'de' }],
  });
  for (const key of ['public/internal-note', 'public/draft'])
    assert.equal((await reader.ok(`{ publishedEntry(key: "${key}") { key } }`)).publishedEntry, null, key);

  const list = await reader.ok(`{ publishedEntries(type: "page", first: 100) { edges { node { key } } } }`);
  const keys = list.publishedEntries.edges.map((e: { node: { key: string } }) => e.node.key);
  assert.ok(keys.includes('public/faq'));
  assert.ok(!keys.includes('public/internal-note') && !keys.includes('public/draft'));

  const unknownLocale = await reader.query(`{ publishedEntry(key: "public/faq", locale: "fr") { key } }`);
  assert.equal(unknownLocale.errors?.[0]?.extensions?.code, 'VALIDATION_FAILED');

  const mutation = await reader.query(
    `mutation { createEntry(input: { type: "page", key: "x", fields: {} }) { __typename } }`,
  );
  assert.ok(mutation.errors?.length, 'the Public graph has no admin mutations');
  const key = await as('admin', 'anna').ok(
    `mutation { createApiKey(input: { name: "shop 2", role: READER }) { ... on CreateApiKeyPayload { secret } } }`,
  );
  const admin = env.adminClient.withToken(key.createApiKey.secret);
  const denied = await admin.query(
    `mutation { createEntry(input: { type: "page", key: "x", fields: {} }) { __typename } }`,
  );
  assert.equal(denied.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  const listDenied = await admin.query(`{ entries { edges { node { key } } } }`);
  assert.equal(listDenied.errors?.[0]?.extensions?.code, 'FORBIDDEN');
});

test('workspaces are isolated: another workspace sees none of these types, entries or published content', async () => {
  const other = as('admin', 'otto', 'other');
  const types = await other.ok(
    '{ contentTypes { key } locales { code } entries { edges { node { key } } } }',
  );
  assert.deepEqual(types, { contentTypes: [], locales: [], entries: { edges: [] } });
  await setLocales(other);
  const reader = await readerClient('other');
  assert.equal((await reader.ok(`{ publishedEntry(key: "public/faq") { key } }`)).publishedEntry, null);
  const [row] = await sql<{ id: string }>(env.em(), `select id from content_entry where key = 'public/faq'`);
  const foreign = await other.ok(`query ($id: ID!) { entry(id: $id) { key } }`, {
    id: Buffer.from(`ContentEntry:${row?.id}`).toString('base64'),
  });
  assert.equal(foreign.entry, null);
  const created = await createType(other, {
    key: 'page',
    name: 'Page',
    fields: [{ key: 'title', kind: 'TEXT' }],
  });
  assert.ok(created.contentType, 'the same type key is free in another workspace');
});

test('entries list filters by type, status, locale and tag', async () => {
  await mutate(editor(), 'createEntry', {
    type: 'page',
    key: 'filter/tagged',
    tags: ['help'],
    fields: { en: { title: 'Tagged' }, de: { title: 'Markiert' } },
  });
  const viewer = as('viewer');
  const keys = async (filter: string) =>
    (
      await viewer.ok(`{ entries(filter: ${filter}, first: 100) { edges { node { key } } } }`)
    ).entries.edges.map((e: { node: { key: string } }) => e.node.key);
  assert.deepEqual(await keys('{ tag: "help" }'), ['filter/tagged']);
  assert.ok((await keys('{ locale: "de" }')).includes('filter/tagged'));
  assert.ok(!(await keys('{ locale: "de" }')).includes('workflow/one'));
  assert.ok(
    (await keys('{ status: PUBLISHED, type: "page" }')).every((k: string) => !k.startsWith('filter/')),
  );
  assert.deepEqual(await keys('{ type: "product", status: DRAFT }'), []);
});
