import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isInterfaceType,
  isLeafType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import { sql } from '../db/sql.ts';
import { seedEntry, seedLocales, seedType } from '../modules/content/delivery/test-fixtures.ts';
import {
  createTestInbox,
  inbound,
  subscribe,
  type TestInbox,
} from '../modules/conversations/test-fixtures.ts';
import { probeDocument } from '../testing/authorization.ts';
import { testChannelPlugin } from '../testing/fixtures/test-channel-plugin.ts';
import {
  buildConfiguredSchemas,
  createTestEnvironment,
  rootFieldsOf,
  type TestEnvironment,
} from '../testing/index.ts';

// Two workspaces with identical identities and content. Derived from the schema: every Admin query
// is read by both, every mutation that takes a record's id is sent by one workspace with the other's
// id, and the other's records must neither show up nor change.

const WORKSPACES = ['demo', 'other'] as const;
type Slug = (typeof WORKSPACES)[number];

let env: TestEnvironment;
let schema: GraphQLSchema;
const writeKeys: Partial<Record<Slug, string>> = {};
const readerKeys: Partial<Record<Slug, string>> = {};
/** Registered in both workspaces: the same text, so the same hash, must stay two separate entries. */
const SHARED_OPERATION = 'query Shared { viewer { workspace { slug } } }';
const inboxes: Partial<Record<Slug, TestInbox>> = {};

const admin = (slug: Slug) => env.adminClient.withToken(env.token('admin', slug));

async function seed(slug: Slug) {
  const workspace = await env.workspace(slug);
  const client = admin(slug);
  await client.ok('mutation { createApiKey(input: { name: "shop", role: EDITOR }) { __typename } }');
  const reader = await client.ok(
    'mutation { createApiKey(input: { name: "storefront", role: READER }) { ... on CreateApiKeyPayload { secret } } }',
  );
  readerKeys[slug] = reader.createApiKey.secret;
  await client.ok(
    'mutation ($documents: [String!]!) { registerPersistedOperations(input: { documents: $documents }) { __typename } }',
    { documents: [SHARED_OPERATION, `query Only${slug} { viewer { kind } }`] },
  );
  const created = await client.ok(
    'mutation { createWriteKey(input: { name: "site" }) { ... on CreateWriteKeyPayload { key } } }',
  );
  writeKeys[slug] = created.createWriteKey.key;
  await seedLocales(env.atrium.orm, workspace.id, [{ code: 'en', isDefault: true }]);
  const typeId = await seedType(env.atrium.orm, workspace.id, {
    key: 'article',
    fields: [{ key: 'title', kind: 'text', localized: true, required: true }] as never,
  });
  await seedEntry(env.atrium.orm, workspace.id, {
    typeId,
    key: 'welcome',
    values: { en: { title: 'Welcome' } },
  });
  inboxes[slug] = await createTestInbox(client, 'test', 'Support mailbox');
  // The same customer writes to both workspaces: one conversation in each.
  await inbound(env, inboxes[slug] as TestInbox, {
    id: `same-message-${slug}`,
    from: { email: 'same@example.com' },
    text: 'Hello',
  });
  await client.ok(
    'mutation { createRoutingRule(input: { name: "everyone", team: "support" }) { __typename } }',
  );
  await client.ok(
    'mutation { upsertAgent(input: { subject: "agent-1", displayName: "Agent" }) { __typename } }',
  );
  const identify = await fetch(`${env.url}/v1/identify`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${writeKeys[slug]}:`).toString('base64')}`,
    },
    body: JSON.stringify({ userId: 'same-user', traits: { email: 'same@example.com', plan: 'gold' } }),
  });
  assert.equal(identify.status, 200, await identify.text());
}

/** A selection that brings back record ids: `id`, a connection's node ids, or `__typename`. */
function selectionFor(type: GraphQLObjectType | ReturnType<typeof getNamedType>): string {
  if (isLeafType(type)) return '';
  if (isObjectType(type) || isInterfaceType(type)) {
    const fields = type.getFields();
    if (fields.edges) return '{ __typename edges { node { __typename ... on Node { id } } } }';
    if (fields.id) return '{ __typename id }';
  }
  return '{ __typename ... on Node { id } }';
}

/** Every global id in an answer. */
function globalIds(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) globalIds(v, found);
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (
        key === 'id' &&
        typeof v === 'string' &&
        /^[A-Za-z]+:[0-9a-f-]{36}$/.test(Buffer.from(v, 'base64').toString())
      ) {
        found.add(v);
      } else globalIds(v, found);
    }
  }
  return found;
}

async function readAll(slug: Slug): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const root of rootFieldsOf(schema, 'admin').filter((f) => f.operation === 'query')) {
    if (root.field.name === 'node' || root.field.name === 'nodes') continue;
    const { variables } = probeDocument(root);
    const required = root.field.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
    const declarations = required.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
    const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
    const query = `query${declarations ? `(${declarations})` : ''} { ${root.field.name}${args ? `(${args})` : ''} ${selectionFor(getNamedType(root.field.type))} }`;
    const result = await admin(slug).query(query, variables);
    globalIds(result.data, ids);
  }
  return ids;
}

/** Every leaf field of a node that needs no argument: what "unchanged" is compared on. */
async function snapshot(slug: Slug, ids: Iterable<string>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const id of ids) {
    const typeName = Buffer.from(id, 'base64').toString().split(':')[0] as string;
    const type = schema.getType(typeName);
    if (!isObjectType(type)) continue;
    const leaves = Object.values(type.getFields())
      .filter((f) => isLeafType(getNamedType(f.type)) && f.args.every((a) => !isNonNullType(a.type)))
      .map((f) => f.name);
    const data = await admin(slug).ok(
      `query ($id: ID!) { node(id: $id) { ... on ${typeName} { ${leaves.join(' ')} } } }`,
      {
        id,
      },
    );
    out[id] = data.node;
  }
  return out;
}

before(async () => {
  env = await createTestEnvironment({ plugins: [testChannelPlugin()] });
  schema = buildConfiguredSchemas([testChannelPlugin()]).admin;
  for (const slug of WORKSPACES) await seed(slug);
});
after(() => env?.destroy());

describe('workspace isolation: identical workspaces never see or touch each other', () => {
  test('every Admin query answers each workspace with its own records only', async () => {
    const demo = await readAll('demo');
    const other = await readAll('other');
    assert.ok(
      demo.size >= 5 && other.size >= 5,
      `both workspaces have records (${demo.size}, ${other.size})`,
    );
    assert.deepEqual(
      [...demo].filter((id) => other.has(id)),
      [],
      'no record appears in both',
    );
    for (const id of demo) {
      const cross = await admin('other').ok('query ($id: ID!) { node(id: $id) { id } }', { id });
      assert.equal(cross.node, null, `other reads demo's ${Buffer.from(id, 'base64').toString()}`);
      const own = await admin('demo').ok('query ($id: ID!) { node(id: $id) { id } }', { id });
      assert.equal(own.node?.id, id);
    }
    const nodes = await admin('other').ok('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', {
      ids: [...demo],
    });
    assert.ok(nodes.nodes.every((n: unknown) => n === null));
  });

  test("every mutation that takes a record's id, sent by the other workspace with demo's id, changes nothing", async () => {
    const demoIds = await readAll('demo');
    const before = await snapshot('demo', demoIds);
    const byType = new Map<string, string>();
    for (const id of demoIds) byType.set(Buffer.from(id, 'base64').toString().split(':')[0] as string, id);
    let attempted = 0;
    for (const root of rootFieldsOf(schema, 'admin').filter((f) => f.operation === 'mutation')) {
      const { query, variables } = probeDocument(root);
      const input = variables.input as Record<string, unknown> | undefined;
      const inputType = root.field.args.find((a) => a.name === 'input')?.type;
      const named = inputType ? getNamedType(inputType) : null;
      if (!input || !named || !('getFields' in named)) continue;
      let aimed = false;
      for (const field of Object.values(named.getFields())) {
        const target = (field.extensions?.relayGlobalIDFor as { typename: string }[] | undefined)?.[0]
          ?.typename;
        const id = target && byType.get(target);
        if (id && getNamedType(field.type).name === 'ID' && !String(field.type).startsWith('[')) {
          input[field.name] = id;
          aimed = true;
        }
      }
      if (!aimed) continue;
      attempted++;
      const result = await admin('other').query(query, variables);
      const typename = result.data?.[root.field.name]?.__typename as string | undefined;
      assert.ok(
        !typename?.endsWith('Payload'),
        `${root.key} from "other" with demo's id succeeded (${typename}): ${JSON.stringify(variables)}`,
      );
    }
    assert.ok(attempted >= 5, `mutations aimed at demo's records: ${attempted}`);
    assert.deepEqual(await snapshot('demo', demoIds), before, "demo's records are unchanged");
  });

  test('ingestion with the same user id makes one profile per workspace; a write key writes only its own', async () => {
    const rows = await sql<{ slug: string; n: string }>(
      env.em(),
      `select w.slug, count(distinct i.profile_id) as n from identity i join workspace w on w.id = i.workspace_id
        where i.type = 'user_id' and i.value = 'same-user' group by w.slug order by w.slug`,
    );
    assert.deepEqual(
      rows.map((r) => [r.slug, Number(r.n)]),
      [
        ['demo', 1],
        ['other', 1],
      ],
    );
    const profiles = async (slug: Slug) =>
      (await admin(slug).ok('{ profiles(first: 100) { edges { node { id traits } } } }')).profiles.edges;
    const [demo, other] = [await profiles('demo'), await profiles('other')];
    assert.equal(demo.length, 1);
    assert.equal(other.length, 1);
    assert.notEqual(demo[0].node.id, other[0].node.id);
  });

  test("live events: an agent's inbox subscription sees its own workspace's messages only", async () => {
    const query = 'subscription { inboxEvents { kind message { text } } }';
    const demo = await subscribe(`${env.url}/graphql`, env.token('agent', 'demo'), query);
    const other = await subscribe(`${env.url}/graphql`, env.token('agent', 'other'), query);
    try {
      await inbound(env, inboxes.other as TestInbox, {
        id: 'live-other',
        from: { email: 'same@example.com' },
        text: 'for other only',
      });
      const seen = await other.until((d) => (d.inboxEvents as { kind: string }).kind === 'MESSAGE');
      assert.deepEqual(seen.inboxEvents, { kind: 'MESSAGE', message: { text: 'for other only' } });
      await assert.rejects(demo.next(1500), /no event within/, "demo's stream stays silent");
    } finally {
      demo.close();
      other.close();
    }
  });

  test("persisted operations: each workspace runs its own registrations only, never the other's hash", async () => {
    const run = async (slug: Slug, document: string) => {
      const sha256Hash = createHash('sha256').update(document).digest('hex');
      const response = await fetch(`${env.url}/public/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': readerKeys[slug] as string },
        body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash } } }),
      });
      return (await response.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
    };
    for (const slug of WORKSPACES) {
      assert.deepEqual((await run(slug, SHARED_OPERATION)).data, { viewer: { workspace: { slug } } });
      assert.deepEqual((await run(slug, `query Only${slug} { viewer { kind } }`)).data, {
        viewer: { kind: 'api-key' },
      });
    }
    const crossed = await run('other', 'query Onlydemo { viewer { kind } }');
    assert.equal(crossed.errors?.[0]?.extensions?.code, 'PERSISTED_OPERATION_NOT_FOUND');
    assert.equal(crossed.data, undefined);
  });

  test('search answers each workspace with its own documents only', async () => {
    const search = async (slug: Slug) =>
      admin(slug).query('{ search(query: "welcome") { hits { id collection } } }');
    const [demo, other] = [await search('demo'), await search('other')];
    const ids = (r: Awaited<ReturnType<typeof search>>) =>
      new Set<string>((r.data?.search?.hits ?? []).map((h: { id: string }) => h.id));
    const shared = [...ids(demo)].filter((id) => ids(other).has(id));
    assert.deepEqual(shared, []);
  });
});
