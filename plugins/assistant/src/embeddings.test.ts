// Retrieval by embeddings on the real server, real PostgreSQL and a real Ollama. SmolLM2-135M is a
// weak embedder (every English sentence scores 0.6–0.9 against every other), so the paraphrase
// test uses a threshold on that model's scale, and the rules (workspace, allowed collections,
// visibility) are tested with a threshold of 0, where every stored embedding would qualify.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type ChatChunk,
  type EmbedRequest,
  type LlmProvider,
  OllamaProvider,
  type SearchSource,
  WORKSPACE_FILTER,
} from '@atrium/core';
import { createTestEnvironment, ollamaForTests, type TestEnvironment, waitFor } from '@atrium/core/testing';
import { answerQuestion } from './answer.ts';
import { assistantConfig } from './config.ts';
import { EMBED_REFRESH_QUEUE, embeddingJobs } from './embedding-jobs.ts';
import { eraseEmbeddingsOf, syncEmbeddings } from './embeddings.ts';
import { AssistantEmbedding } from './entities.ts';
import { assistantPlugin } from './index.ts';
import { DEFAULT_POLICY } from './policy.ts';
import { type RetrievalInput, retrievePassages } from './retrieval.ts';
import { prepareContent, publishArticle } from './test-support.ts';

const ollama = ollamaForTests();
// Measured with atrium-smollm2: the paraphrase below scores 0.86 with the opening-hours article and
// at most 0.82 with the others; an unrelated question (telescopes) at most 0.83 with any of them.
const SMOLLM2_MIN_SIMILARITY = 0.85;
const PARAPHRASE = 'When can I visit your shops?';

/** The real provider, counting the texts it is asked to embed. */
class CountingProvider extends OllamaProvider {
  embedded = 0;
  override embed(request: EmbedRequest): Promise<number[][]> {
    this.embedded += request.input.length;
    return super.embed(request);
  }
}

/** Real embeddings, a fixed answer: what the model writes is not under test here, only what it is given. */
class FixedAnswerProvider extends CountingProvider {
  override async *chatStream(): AsyncGenerator<ChatChunk> {
    yield { content: 'We are open Monday to Saturday [1].', done: false, toolCalls: [] };
    yield { content: '', done: true, toolCalls: [] };
  }
}

function provider(embedModel: string | null, url = ollama?.url ?? ''): CountingProvider {
  return new CountingProvider({ url, model: ollama?.model ?? '', embedModel, timeoutMs: 30_000 });
}

describe('retrieval by embeddings on a real Ollama', {
  skip: ollama ? false : 'OLLAMA_URL is not set (deploy/local/ollama.sh)',
}, () => {
  let env: TestEnvironment;
  let workspaceId: string;
  let returnsId: string;
  let hoursId: string;
  let internalId: string;
  let content: SearchSource;

  const scopedEm = (id = workspaceId) => {
    const em = env.em();
    em.setFilterParams(WORKSPACE_FILTER, { id });
    return em;
  };
  const retrieve = (llm: LlmProvider | null, input: Partial<RetrievalInput>) =>
    retrievePassages({ ...env.atrium.runtimeOf('assistant'), llm }, scopedEm(input.workspaceId), {
      workspaceId,
      question: PARAPHRASE,
      collections: ['content'],
      includeInternal: false,
      limit: 5,
      minCoverage: 0.34,
      minSimilarity: SMOLLM2_MIN_SIMILARITY,
      ...input,
    });
  const embeddedIds = async () =>
    (
      await env
        .em()
        .find(AssistantEmbedding, { workspace: workspaceId, collection: 'content' }, { filters: false })
    ).map((e) => e.documentId);

  before(async () => {
    env = await createTestEnvironment({
      plugins: [assistantPlugin({ maxAnswerTokens: 16, minSimilarity: SMOLLM2_MIN_SIMILARITY })],
      // deploy/local/test.sh sets no embedding model: the chat model embeds here (Ollama can).
      settings: {
        OLLAMA_URL: ollama?.url ?? '',
        OLLAMA_MODEL: ollama?.model ?? '',
        OLLAMA_EMBED_MODEL: ollama?.model ?? '',
        LLM_TIMEOUT_MS: '30000',
      },
    });
    workspaceId = (await env.workspace('demo')).id;
    content = env.atrium
      .runtimeOf('assistant')
      .searchSources.find((s) => s.collection === 'content') as SearchSource;
    await prepareContent(env);
    returnsId = await publishArticle(env, {
      key: 'returns',
      title: 'Returning an item',
      body: 'You can return an item within 30 days of delivery. Print the return label from your account and drop the parcel at any post office. Refunds arrive within 5 business days.',
    });
    hoursId = await publishArticle(env, {
      key: 'hours',
      title: 'Opening hours',
      body: 'Our stores are open Monday to Saturday from 9 am to 8 pm.',
    });
    internalId = await publishArticle(env, {
      key: 'refund-override',
      title: 'Refund override for returned items (internal)',
      body: 'Agents can override a refund for a returned item in the back office under Orders, Refunds, Override.',
      visibility: 'INTERNAL',
    });
    await waitFor(
      async () => (await embeddedIds()).length === 3,
      30_000,
      'the three articles to be embedded',
    );
  });
  after(() => env?.destroy());

  test('published documents are embedded per workspace, as unit vectors; unchanged ones never reach the model again', async () => {
    const rows = await env.em().find(AssistantEmbedding, { collection: 'content' }, { filters: false });
    assert.deepEqual(new Set(rows.map((r) => r.documentId)), new Set([returnsId, hoursId, internalId]));
    for (const row of rows) {
      assert.equal(row.workspace, workspaceId);
      assert.equal(row.model, ollama?.model);
      assert.ok(Math.abs(Math.hypot(...row.vector) - 1) < 1e-3, 'unit length');
    }
    assert.equal(rows.find((r) => r.documentId === internalId)?.filters.visibility, 'internal');
    const llm = provider(ollama?.model ?? null);
    const again = await syncEmbeddings(
      scopedEm(),
      { llm, model: ollama?.model ?? '' },
      content,
      workspaceId,
      [returnsId, hoursId, internalId],
    );
    assert.deepEqual(again, { embedded: 0, unchanged: 3, removed: 0 });
    assert.equal(llm.embedded, 0, 'the model was not called');
    // The hourly refresh walks every document the same way: nothing changed, nothing embedded.
    const refresh = embeddingJobs[EMBED_REFRESH_QUEUE];
    assert.ok(refresh);
    await refresh.handle(
      {},
      {
        ...env.atrium.runtimeOf('assistant'),
        llm,
        em: env.em(),
        jobId: 'test',
        attempt: 1,
        signal: AbortSignal.timeout(60_000),
      },
    );
    assert.equal(llm.embedded, 0, 'the refresh did not call the model either');
  });

  test('a question in other words is found by its meaning, and answered from it', async () => {
    const llm = env.atrium.runtimeOf('assistant').llm;
    // No word of the question is in any article: by words alone there is nothing to answer from.
    const byWords = await retrieve(provider(null), {});
    assert.deepEqual(byWords.passages, []);
    const byMeaning = await retrieve(llm, {});
    assert.equal(byMeaning.passages[0]?.documentId, hoursId);
    assert.ok((byMeaning.passages[0]?.similarity ?? 0) >= SMOLLM2_MIN_SIMILARITY);
    assert.deepEqual(byMeaning.rules, ['retrieved-by-meaning']);

    const runtime = env.atrium.runtimeOf('assistant');
    const writer = new FixedAnswerProvider({
      url: ollama?.url ?? '',
      model: 'fixed',
      embedModel: ollama?.model ?? null,
      timeoutMs: 30_000,
    });
    const answer = await answerQuestion(
      { runtime, llm: writer, em: scopedEm(), policy: DEFAULT_POLICY },
      { workspaceId, question: PARAPHRASE, audience: 'customer' },
    );
    assert.equal(answer.mode, 'generated');
    assert.deepEqual(
      answer.sources.map((s) => s.documentId),
      [hoursId],
    );
    assert.ok(answer.rulesApplied.includes('retrieved-by-meaning'));
    // Only the meaning matched, not the words: the answer goes to a person as well (low confidence).
    assert.equal(answer.handoff?.reason, 'low-confidence');
  });

  test('nothing near enough in meaning or words: still refused', async () => {
    const runtime = env.atrium.runtimeOf('assistant');
    const answer = await answerQuestion(
      { runtime, llm: runtime.llm, em: scopedEm(), policy: DEFAULT_POLICY },
      { workspaceId, question: 'Do you sell telescopes for astronomy?', audience: 'customer' },
    );
    assert.equal(answer.mode, 'refused');
    assert.deepEqual(answer.sources, []);
    assert.ok(answer.rulesApplied.includes('no-relevant-source'));
  });

  test('by meaning too, customers never get internal documents, and only allowed collections are read', async () => {
    const llm = env.atrium.runtimeOf('assistant').llm;
    // Threshold 0: every stored embedding would qualify, so only the rules keep documents out.
    const customer = await retrieve(llm, { minSimilarity: 0, question: 'Can agents override a refund?' });
    assert.ok(customer.passages.length > 0);
    assert.ok(
      !customer.passages.some((p) => p.documentId === internalId),
      'no internal document for customers',
    );
    const agent = await retrieve(llm, {
      minSimilarity: 0,
      question: 'Can agents override a refund?',
      includeInternal: true,
    });
    assert.ok(
      agent.passages.some((p) => p.documentId === internalId),
      'agents may read internal documents',
    );
    const elsewhere = await retrieve(llm, { minSimilarity: 0, collections: ['knowledge-elsewhere'] });
    assert.deepEqual(elsewhere, { passages: [], rules: [] });
  });

  test("workspace B's question never returns workspace A's passages", async () => {
    const other = (await env.workspace('other')).id;
    const llm = env.atrium.runtimeOf('assistant').llm;
    const own = await retrieve(llm, { minSimilarity: 0, question: 'Returning an item' });
    assert.ok(
      own.passages.some((p) => p.documentId === returnsId),
      'A finds its own article',
    );
    const fromB = await retrieve(llm, {
      workspaceId: other,
      minSimilarity: 0,
      question: 'Returning an item',
    });
    assert.deepEqual(fromB.passages, []);
  });

  test('the model down: keyword retrieval still answers, and the explanation says embeddings failed', async () => {
    const down = provider(ollama?.model ?? null, 'http://127.0.0.1:9');
    const runtime = env.atrium.runtimeOf('assistant');
    const answer = await answerQuestion(
      { runtime, llm: down, em: scopedEm(), policy: DEFAULT_POLICY },
      { workspaceId, question: 'How can I return an item I bought?', audience: 'customer' },
    );
    assert.equal(answer.mode, 'extractive');
    assert.equal(answer.sources[0]?.documentId, returnsId);
    assert.ok(answer.rulesApplied.includes('embeddings-failed:LLM_UNAVAILABLE'), answer.rulesApplied.join());
    assert.ok(answer.rulesApplied.includes('llm-failed:LLM_UNAVAILABLE'));
  });

  test('erasing a person removes the embeddings of documents about them (the profileId filter)', async () => {
    const [anna, ben] = [crypto.randomUUID(), crypto.randomUUID()];
    // A source of documents about people, as a module that indexes them would declare it.
    const notes: SearchSource = {
      collection: 'notes',
      settings: { searchable: ['title', 'body'], filterable: ['profileId'] },
      documentsFor: async (_em, _workspaceId, ids) =>
        ids.map((id) => ({
          id,
          fields: { title: 'Note', body: `A note about ${id}` },
          filters: { profileId: id === 'n1' ? anna : ben },
        })),
      allIds: async () => ['n1', 'n2'],
    };
    const em = scopedEm();
    const model = ollama?.model ?? '';
    await syncEmbeddings(em, { llm: provider(model), model }, notes, workspaceId, ['n1', 'n2']);
    assert.equal(await eraseEmbeddingsOf(em, workspaceId, [anna]), 1);
    const left = await env.em().find(AssistantEmbedding, { collection: 'notes' }, { filters: false });
    assert.deepEqual(
      left.map((r) => r.documentId),
      ['n2'],
    );
  });

  test('unpublishing removes the embedding', async () => {
    const editor = env.adminClient.withToken(env.token('editor'));
    const id = Buffer.from(`ContentEntry:${hoursId}`).toString('base64');
    const data = await editor.ok(
      `mutation ($input: UnpublishEntryInput!) { unpublishEntry(input: $input) { __typename ... on Error { message } } }`,
      { input: { id } },
    );
    assert.equal(data.unpublishEntry.__typename, 'UnpublishEntryPayload', JSON.stringify(data));
    await waitFor(async () => !(await embeddedIds()).includes(hoursId), 30_000, 'the embedding to go');
    assert.deepEqual(new Set(await embeddedIds()), new Set([returnsId, internalId]));
  });
});

describe('without an embedding model', {
  skip: ollama ? false : 'OLLAMA_URL is not set (deploy/local/ollama.sh)',
}, () => {
  let env: TestEnvironment;
  before(async () => {
    env = await createTestEnvironment({
      plugins: [assistantPlugin()],
      settings: { OLLAMA_URL: ollama?.url ?? '', OLLAMA_MODEL: ollama?.model ?? '' },
    });
    await prepareContent(env);
  });
  after(() => env?.destroy());

  test('nothing is embedded and nothing calls embed; retrieval is by words as before', async () => {
    const runtime = env.atrium.runtimeOf('assistant');
    const workspaceId = (await env.workspace('demo')).id;
    const returnsId = await publishArticle(env, {
      key: 'returns',
      title: 'Returning an item',
      body: 'You can return an item within 30 days of delivery.',
    });
    const llm = provider(null);
    const em = env.em();
    em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
    const found = await retrievePassages({ ...runtime, llm }, em, {
      workspaceId,
      question: 'How can I return an item?',
      collections: ['content'],
      includeInternal: false,
      limit: 3,
      minCoverage: 0.34,
      minSimilarity: assistantConfig.parse({}).minSimilarity,
    });
    assert.deepEqual(
      found.passages.map((p) => [p.documentId, p.similarity]),
      [[returnsId, null]],
    );
    assert.deepEqual(found.rules, []);
    for (const [name, job] of Object.entries(embeddingJobs)) {
      const data =
        name === EMBED_REFRESH_QUEUE ? {} : { workspaceId, collection: 'content', ids: [returnsId] };
      await job.handle(data, {
        ...runtime,
        llm,
        em,
        jobId: 'test',
        attempt: 1,
        signal: AbortSignal.timeout(60_000),
      });
    }
    assert.equal(llm.embedded, 0, 'embed was never called');
    assert.equal(await env.em().count(AssistantEmbedding, {}, { filters: false }), 0);
  });
});
