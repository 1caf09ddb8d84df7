import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../../testing/index.ts';
import { PersistedOperation } from './entities.ts';

// Persisted operations over real HTTP on a real database: admins register Public-graph documents,
// frontends run them by hash; a workspace may refuse every other document.

const WHO = 'query Who { viewer { kind workspace { slug } } }';
const WHO_HASH = createHash('sha256').update(WHO).digest('hex');
const REGISTER = `mutation ($documents: [String!]!) {
  registerPersistedOperations(input: { documents: $documents }) {
    __typename
    ... on RegisterPersistedOperationsPayload { persistedOperations { id sha256Hash operationName } }
    ... on ValidationError { code field message }
  }
}`;
const LIST = '{ persistedOperations(first: 100) { edges { node { id sha256Hash document } } } }';

let env: TestEnvironment;
const readerKeys: Record<string, string> = {};

before(async () => {
  env = await createTestEnvironment();
  for (const slug of ['demo', 'other']) {
    const created = await admin(slug).ok(
      'mutation { createApiKey(input: { name: "shop", role: READER }) { ... on CreateApiKeyPayload { secret } } }',
    );
    readerKeys[slug] = created.createApiKey.secret;
  }
});
after(() => env?.destroy());

const admin = (slug = 'demo') => env.adminClient.withToken(env.token('admin', slug));

/** A Public graph request as a frontend sends it: any JSON body, with the workspace's reader key. */
async function publicCall(body: Record<string, unknown>, slug: string | null = 'demo') {
  const response = await fetch(`${env.url}/public/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(slug ? { 'x-api-key': readerKeys[slug] as string } : {}),
    },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as {
    data?: any;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  return { status: response.status, ...json };
}

const byHash = (hash: string) => ({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
const stored = () => env.em().count(PersistedOperation, {}, { filters: false });

describe('registering persisted operations', () => {
  test('a document that does not parse or validate against the Public graph refuses the whole list; nothing is stored', async () => {
    const invalid = await admin().ok(REGISTER, { documents: [WHO, '{ apiKeys { edges { node { id } } } }'] });
    assert.equal(invalid.registerPersistedOperations.__typename, 'ValidationError');
    assert.equal(invalid.registerPersistedOperations.field, 'documents.1');
    assert.match(invalid.registerPersistedOperations.message, /not valid on the Public graph.*apiKeys/);
    const broken = await admin().ok(REGISTER, { documents: ['query {'] });
    assert.equal(broken.registerPersistedOperations.field, 'documents.0');
    assert.match(broken.registerPersistedOperations.message, /does not parse/);
    assert.equal(await stored(), 0);
    assert.deepEqual((await admin().ok(LIST)).persistedOperations.edges, []);
  });

  test('only admins register: an editor is refused and nothing is stored', async () => {
    const result = await env.adminClient.withToken(env.token('editor')).query(REGISTER, { documents: [WHO] });
    assert.equal(result.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    assert.equal(await stored(), 0);
  });

  test('the hash is the SHA-256 of the exact text; registering again returns the same entry', async () => {
    const first = await admin().ok(REGISTER, { documents: [WHO, WHO] });
    const [operation] = first.registerPersistedOperations.persistedOperations;
    assert.equal(
      first.registerPersistedOperations.persistedOperations.length,
      1,
      'one per distinct document',
    );
    assert.equal(operation.sha256Hash, WHO_HASH);
    assert.equal(operation.operationName, 'Who');
    const again = await admin().ok(REGISTER, { documents: [WHO] });
    assert.equal(again.registerPersistedOperations.persistedOperations[0].id, operation.id);
    assert.equal(await stored(), 1);
  });

  test('two builds registering the same new documents at once both succeed, with one row each', async () => {
    const before = await stored();
    const documents = ['query Race1 { viewer { kind } }', 'query Race2 { viewer { workspace { slug } } }'];
    const results = await Promise.all([1, 2, 3].map(() => admin().ok(REGISTER, { documents })));
    const ids = results.map((r) =>
      r.registerPersistedOperations.persistedOperations.map((o: { id: string }) => o.id).join(),
    );
    assert.equal(new Set(ids).size, 1, JSON.stringify(results));
    assert.equal(await stored(), before + 2);
  });

  test('more than 500 documents in one registration are refused and nothing is stored', async () => {
    const before = await stored();
    const documents = Array.from({ length: 501 }, (_, i) => `query Many${i} { viewer { kind } }`);
    const refused = await admin().ok(REGISTER, { documents });
    assert.equal(refused.registerPersistedOperations.__typename, 'ValidationError');
    assert.equal(refused.registerPersistedOperations.field, 'documents');
    assert.equal(await stored(), before);
  });
});

describe('running persisted operations on the Public graph', () => {
  test('a registered hash runs, as APQ extension or documentId; documents are still accepted by default', async () => {
    const apq = await publicCall(byHash(WHO_HASH));
    assert.deepEqual(apq.data, { viewer: { kind: 'api-key', workspace: { slug: 'demo' } } });
    const documentId = await publicCall({ documentId: `sha256:${WHO_HASH}` });
    assert.deepEqual(documentId.data, apq.data);
    const arbitrary = await publicCall({ query: '{ viewer { kind } }' });
    assert.deepEqual(arbitrary.data, { viewer: { kind: 'api-key' } });
  });

  test('an unknown hash is PERSISTED_OPERATION_NOT_FOUND', async () => {
    const unknown = await publicCall(byHash('0'.repeat(64)));
    assert.equal(unknown.status, 400);
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'PERSISTED_OPERATION_NOT_FOUND');
    assert.equal(unknown.data, undefined);
  });

  test('with persistedOperationsOnly, any document is refused and registered hashes still run', async () => {
    const turnedOn = await admin().ok(
      `mutation { updateWorkspaceSecurity(input: { persistedOperationsOnly: true }) {
        ... on UpdateWorkspaceSecurityPayload { workspace { persistedOperationsOnly } } } }`,
    );
    assert.equal(turnedOn.updateWorkspaceSecurity.workspace.persistedOperationsOnly, true);
    for (const body of [{ query: '{ viewer { kind } }' }, { query: WHO, ...byHash(WHO_HASH) }]) {
      const refused = await publicCall(body);
      assert.equal(refused.status, 400);
      assert.equal(refused.errors?.[0]?.extensions?.code, 'PERSISTED_OPERATION_REQUIRED');
      assert.match(refused.errors?.[0]?.message ?? '', /runs registered operations only/);
      assert.equal(refused.data, undefined, 'nothing ran');
    }
    const registered = await publicCall(byHash(WHO_HASH));
    assert.deepEqual(registered.data, { viewer: { kind: 'api-key', workspace: { slug: 'demo' } } });
    // The Admin graph is for staff tools and keeps accepting documents.
    assert.ok((await admin().ok('{ viewer { kind } }')).viewer);
    const audit = await admin().ok(
      '{ auditEntries(first: 10, filter: { action: "mutation.updateWorkspaceSecurity" }) { edges { node { actorSubject targets { type } } } } }',
    );
    assert.equal(audit.auditEntries.edges[0]?.node.actorSubject, 'dev-admin');
  });

  test("another workspace can never run this workspace's hash; anonymous callers have no operations", async () => {
    const other = await publicCall(byHash(WHO_HASH), 'other');
    assert.equal(other.errors?.[0]?.extensions?.code, 'PERSISTED_OPERATION_NOT_FOUND');
    assert.equal(other.data, undefined);
    const anonymous = await publicCall(byHash(WHO_HASH), null);
    assert.equal(anonymous.errors?.[0]?.extensions?.code, 'PERSISTED_OPERATION_NOT_FOUND');
    assert.deepEqual((await admin('other').ok(LIST)).persistedOperations.edges, []);
    // Registered in "other" too, the same text is another entry that runs as "other".
    const registered = await admin('other').ok(REGISTER, { documents: [WHO] });
    assert.equal(registered.registerPersistedOperations.persistedOperations[0].sha256Hash, WHO_HASH);
    const own = await publicCall(byHash(WHO_HASH), 'other');
    assert.deepEqual(own.data, { viewer: { kind: 'api-key', workspace: { slug: 'other' } } });
  });

  test('a removed operation no longer runs; the other workspace keeps its own', async () => {
    const edge = (await admin().ok(LIST)).persistedOperations.edges.find(
      (e: { node: { sha256Hash: string } }) => e.node.sha256Hash === WHO_HASH,
    );
    const removed = await admin().ok(
      'mutation ($id: ID!) { removePersistedOperation(input: { id: $id }) { __typename } }',
      { id: edge.node.id },
    );
    assert.equal(removed.removePersistedOperation.__typename, 'RemovePersistedOperationPayload');
    const gone = await publicCall(byHash(WHO_HASH));
    assert.equal(gone.errors?.[0]?.extensions?.code, 'PERSISTED_OPERATION_NOT_FOUND');
    assert.equal((await publicCall(byHash(WHO_HASH), 'other')).data?.viewer.workspace.slug, 'other');
  });
});
