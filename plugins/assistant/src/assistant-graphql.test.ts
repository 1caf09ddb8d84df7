// The assistant through GraphQL (governance, the Public graph, streaming) on the real server and a
// real Ollama (SmolLM2-135M), apart from assistant.test.ts so each file has its own time budget;
// assertions are on behaviour (citations, refusals, handoffs, explanations), never on wording.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openCustomerSession, WORKSPACE_FILTER } from '@atrium/core';
import { createTestEnvironment, ollamaForTests, type TestEnvironment, waitFor } from '@atrium/core/testing';
import { AI_DISCLOSURE } from './answer.ts';
import { AssistantAnswer } from './entities.ts';
import { assistantPlugin } from './index.ts';
import { prepareContent, publishArticle, recordingChannelPlugin } from './test-support.ts';

const ollama = ollamaForTests();
let env: TestEnvironment;
let workspaceId: string;
let internalId: string;

const ANSWER = `answer { text mode confidence handoffSuggested disclosure explanationId sources { ref collection documentId title coverage } }`;
const ASK = `mutation ($question: String!) { askAssistant(question: $question) { __typename
  ... on AssistantAnswer { text mode confidence handoffSuggested disclosure explanationId sources { ref documentId title } }
  ... on ValidationError { field message } } }`;

async function _explanationFor(messageId: string) {
  return waitFor(
    async () => env.em().findOne(AssistantAnswer, { questionMessageId: messageId }, { filters: false }),
    90_000,
    'the assistant to answer',
  );
}

async function _handoffsOf(conversationId: string) {
  const agent = env.adminClient.withToken(env.token('agent'));
  const id = Buffer.from(`Conversation:${conversationId}`).toString('base64');
  const data = await agent.ok(
    `query ($id: ID!) { conversation(id: $id) { handoffs { source reason summary } } }`,
    { id },
  );
  return data.conversation.handoffs as { source: string; reason: string; summary: string }[];
}

describe('assistant through GraphQL on a real Ollama', {
  skip: ollama ? false : 'OLLAMA_URL is not set (deploy/local/ollama.sh)',
}, () => {
  before(async () => {
    env = await createTestEnvironment({
      // Short answers keep the suite quick on a CPU; the behaviour under test does not depend on length.
      plugins: [
        recordingChannelPlugin(),
        assistantPlugin({ maxAnswerTokens: 16, maxSources: 2, maxSummaryTokens: 48 }),
      ],
      // A slow call falls back to the extractive answer (which the tests accept) instead of
      // running the file out of time on a busy CPU.
      settings: { OLLAMA_URL: ollama?.url ?? '', OLLAMA_MODEL: ollama?.model ?? '', LLM_TIMEOUT_MS: '30000' },
    });
    workspaceId = (await env.workspace('demo')).id;
    await prepareContent(env);
    await publishArticle(env, {
      key: 'returns',
      title: 'Returning an item',
      body: 'You can return an item within 30 days of delivery. Print the return label from your account and drop the parcel at any post office. Refunds arrive within 5 business days.',
    });
    await publishArticle(env, {
      key: 'shipping',
      title: 'Shipping times',
      body: 'Orders ship within 2 days. Delivery takes 3 to 5 business days in Germany.',
    });
    internalId = await publishArticle(env, {
      key: 'refund-override',
      title: 'Refund override for returned items (internal)',
      body: 'Agents can override a refund for a returned item in the back office under Orders, Refunds, Override.',
      visibility: 'INTERNAL',
    });
  });
  after(() => env?.destroy());

  test('governance is versioned and applied: blocked topics, handoff topics, disclaimers, allowed sources', async () => {
    const admin = env.adminClient.withToken(env.token('admin'));
    const update = `mutation ($input: UpdateAssistantPolicyInput!) { updateAssistantPolicy(input: $input) { __typename
      ... on UpdateAssistantPolicyPayload { policy { version blockedTopics } } ... on ValidationError { field message } } }`;
    const bad = await admin.ok(update, { input: { tone: 'warm', allowedCollections: [] } });
    assert.equal(bad.updateAssistantPolicy.field, 'allowedCollections');
    const v1 = await admin.ok(update, {
      input: {
        tone: 'warm and brief',
        allowedCollections: ['content'],
        blockedTopics: ['politics'],
        handoffTopics: ['cancel contract'],
        disclaimers: ['Answers may be incomplete; check your order page.'],
        wordsToAvoid: ['cheap'],
      },
    });
    assert.equal(v1.updateAssistantPolicy.policy.version, 1);
    const customer = await customerClient();
    const answered = (await customer.ok(ASK, { question: 'How long does shipping take?' })).askAssistant;
    assert.match(answered.text, /Answers may be incomplete; check your order page\./);
    const why = await explanation(answered.explanationId);
    if (answered.mode === 'REFUSED') {
      // The output guard may withhold what a 135M model writes (e.g. it echoes its instructions).
      assert.ok(why.rulesApplied.includes('answer-withheld'), JSON.stringify(why));
    } else {
      assert.ok(answered.sources.length > 0, JSON.stringify(why));
      assert.match(answered.text, /\[1\]/);
    }
    const blocked = (await customer.ok(ASK, { question: 'What do you think about politics?' })).askAssistant;
    assert.equal(blocked.mode, 'REFUSED');
    assert.equal(blocked.handoffSuggested, true);
    const topic = (await customer.ok(ASK, { question: 'I want to cancel my contract' })).askAssistant;
    assert.equal(topic.mode, 'HANDED_OFF');
    // Version 2 allows no collection that holds the articles: nothing may be retrieved.
    await admin.ok(update, { input: { tone: 'warm', allowedCollections: ['faq'] } });
    const none = (await customer.ok(ASK, { question: 'How long does shipping take?' })).askAssistant;
    assert.equal(none.mode, 'REFUSED');
    assert.deepEqual(none.sources, []);
    const agent = env.adminClient.withToken(env.token('agent'));
    const explained = await agent.ok(
      `query ($id: ID!) { assistantExplanation(id: $id) { policyVersion rulesApplied } }`,
      {
        id: none.explanationId,
      },
    );
    assert.equal(explained.assistantExplanation.policyVersion, 2);
    const versions = await admin.ok(`{ assistantPolicyVersions { version } }`);
    assert.deepEqual(
      versions.assistantPolicyVersions.map((v: { version: number }) => v.version),
      [2, 1],
    );
    await admin.ok(update, {
      input: { tone: 'friendly, clear and concise', allowedCollections: ['content'] },
    });
  });

  test('customers ask through the Public graph and never see internal content; agents may', async () => {
    const customer = await customerClient();
    const answer = (await customer.ok(ASK, { question: 'refund override for a returned item' })).askAssistant;
    assert.equal(answer.__typename, 'AssistantAnswer');
    assert.ok(!answer.sources.some((s: { documentId: string }) => s.documentId === internalId));
    assert.equal(answer.disclosure, AI_DISCLOSURE);
    const agent = env.adminClient.withToken(env.token('agent'));
    const agentAnswer = (await agent.ok(ASK, { question: 'refund override for a returned item' }))
      .askAssistant;
    assert.ok(agentAnswer.sources.some((s: { documentId: string }) => s.documentId === internalId));
    const empty = (await customer.ok(ASK, { question: '   ' })).askAssistant;
    assert.equal(empty.__typename, 'ValidationError');
    const anonymous = await env.publicClient.query(ASK, { question: 'hello' });
    assert.ok(anonymous.errors?.length, 'a customer session or a staff token is needed');
  });

  test('the answer streams over server-sent events: sources first, text, then the whole answer', async () => {
    const { token } = await openSession();
    const response = await fetch(`${env.url}/public/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({
        query: `subscription ($q: String!) { assistantAnswerStream(question: $q) { kind text sources { ref title } ${ANSWER} } }`,
        variables: { q: 'How can I return an item?' },
      }),
    });
    assert.equal(response.status, 200);
    const events: any[] = [];
    const body = await response.text();
    for (const block of body.split('\n\n')) {
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data) events.push(JSON.parse(data));
    }
    const kinds = events.map((e) => e.data?.assistantAnswerStream?.kind).filter(Boolean);
    assert.equal(kinds[0], 'SOURCES', JSON.stringify(events).slice(0, 500));
    assert.ok(kinds.includes('TEXT'));
    assert.equal(kinds.at(-1), 'DONE');
    const done =
      events.at(-1)?.data?.assistantAnswerStream ??
      events.findLast((e) => e.data)?.data.assistantAnswerStream;
    assert.ok(done.answer.sources.length > 0);
    assert.match(done.answer.text, /\[1\]/);
  });
});

async function explanation(id: string) {
  const agent = env.adminClient.withToken(env.token('agent'));
  const data = await agent.ok(
    `query ($id: ID!) { assistantExplanation(id: $id) { mode policyVersion rulesApplied model sources { title } } }`,
    { id },
  );
  return data.assistantExplanation;
}

async function openSession() {
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  return em.transactional((tx) =>
    openCustomerSession(tx, { workspaceId, issuedBy: 'assistant-test', ttlHours: 1 }),
  );
}

async function customerClient() {
  const { token } = await openSession();
  return env.publicClient.withToken(token);
}
