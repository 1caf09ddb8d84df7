// The assistant end to end on the real server, the real search and a real Ollama (SmolLM2-135M):
// assertions are on behaviour (citations, refusals, handoffs, explanations), never on wording.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ChannelInboxEntity, WORKSPACE_FILTER } from '@atrium/core';
import { createTestEnvironment, ollamaForTests, type TestEnvironment, waitFor } from '@atrium/core/testing';
import { AI_DISCLOSURE } from './answer.ts';
import { AssistantAnswer } from './entities.ts';
import { assistantPlugin } from './index.ts';
import {
  createTestInbox,
  customerWrites,
  prepareContent,
  publishArticle,
  recordingChannelPlugin,
  sentByChannel,
} from './test-support.ts';

const ollama = ollamaForTests();
let env: TestEnvironment;
let inbox: ChannelInboxEntity;
let workspaceId: string;
let returnsId: string;
let internalId: string;

async function explanationFor(messageId: string) {
  return waitFor(
    async () => env.em().findOne(AssistantAnswer, { questionMessageId: messageId }, { filters: false }),
    90_000,
    'the assistant to answer',
  );
}

async function handoffsOf(conversationId: string) {
  const agent = env.adminClient.withToken(env.token('agent'));
  const id = Buffer.from(`Conversation:${conversationId}`).toString('base64');
  const data = await agent.ok(
    `query ($id: ID!) { conversation(id: $id) { handoffs { source reason summary } } }`,
    { id },
  );
  return data.conversation.handoffs as { source: string; reason: string; summary: string }[];
}

describe('assistant on a real Ollama', {
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
    returnsId = await publishArticle(env, {
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
    inbox = await createTestInbox(env);
  });
  after(() => env?.destroy());

  test('a customer question in a conversation gets a cited answer, an AI disclosure and a stored explanation', async () => {
    const asked = await customerWrites(env, inbox, 'anna@example.com', 'How can I return an item I bought?');
    const explanation = await explanationFor(asked.messageId);
    assert.ok(['generated', 'extractive'].includes(explanation.mode), explanation.mode);
    assert.ok(explanation.sources.length > 0, 'cites at least one source');
    assert.ok(
      explanation.sources.some((s) => s.documentId === returnsId),
      'cites the returns article',
    );
    assert.ok(
      !explanation.sources.some((s) => s.documentId === internalId),
      'never cites internal content to a customer',
    );
    assert.equal(explanation.model, explanation.mode === 'generated' ? ollama?.model : null);
    assert.ok(explanation.confidence > 0);
    assert.equal(explanation.policyVersion, 0);
    assert.ok(explanation.rulesApplied.includes('policy-v0'));
    assert.match(explanation.answer, /Sources:\n\[1\] /);
    // The reply went out through the conversation's channel, as the assistant, disclosing the AI.
    await waitFor(
      () => sentByChannel.find((m) => m.conversationId === asked.conversationId),
      15000,
      'the reply to be sent',
    );
    const reply = sentByChannel.find((m) => m.conversationId === asked.conversationId);
    assert.ok(reply?.text?.startsWith(AI_DISCLOSURE), reply?.text ?? '');
    assert.ok(reply?.text?.includes('[1]'));
    // Agent assist: the message is classified for routing.
    const agent = env.adminClient.withToken(env.token('agent'));
    const id = Buffer.from(`Conversation:${asked.conversationId}`).toString('base64');
    const data = await agent.ok(
      `query ($id: ID!) { conversation(id: $id) { intent messages(first: 5) { edges { node { text intent sentiment direction } } } } }`,
      { id },
    );
    assert.equal(data.conversation.intent, 'return');
    // The explanation is queryable by agents.
    const listed = await agent.ok(
      `query ($id: ID!) { assistantExplanations(conversationId: $id) { edges { node { mode model confidence rulesApplied policyVersion sources { documentId } } } } }`,
      { id },
    );
    assert.equal(listed.assistantExplanations.edges.length, 1);
    // Agent assist: a summary for whoever picks the conversation up — schema-checked JSON from the
    // model, or (when its JSON does not fit) the customer's words as written.
    const summary = (
      await agent.ok(
        `query ($id: ID!) { assistantConversationSummary(conversationId: $id) { __typename ... on AssistantConversationSummary { mode summary customerWants intent model } } }`,
        { id },
      )
    ).assistantConversationSummary;
    assert.ok(summary.summary.trim().length > 0);
    assert.equal(summary.intent, 'return');
    assert.equal(summary.model, summary.mode === 'GENERATED' ? ollama?.model : null);
    if (summary.mode === 'EXTRACTIVE') assert.match(summary.summary, /return an item I bought/);
  });

  test('nothing relevant: it says so instead of guessing, and hands over', async () => {
    const asked = await customerWrites(
      env,
      inbox,
      'ben@example.com',
      'Do you sell telescopes for astronomy?',
    );
    const explanation = await explanationFor(asked.messageId);
    assert.equal(explanation.mode, 'refused');
    assert.deepEqual(explanation.sources, []);
    assert.equal(explanation.model, null, 'no model was asked');
    assert.equal(explanation.handoffReason, 'low-confidence');
    assert.ok(explanation.rulesApplied.includes('no-relevant-source'));
    const handoffs = await handoffsOf(asked.conversationId);
    assert.equal(handoffs.length, 1);
    assert.equal(handoffs[0]?.source, 'assistant');
    assert.match(handoffs[0]?.summary ?? '', /telescopes for astronomy/, 'the summary carries the question');
    // A person owns it now: the assistant stays quiet on the next message.
    const next = await customerWrites(env, inbox, 'ben@example.com', 'How do I return an item?');
    assert.equal(next.conversationId, asked.conversationId);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(
      await env.em().count(AssistantAnswer, { questionMessageId: next.messageId }, { filters: false }),
      0,
    );
  });

  test('asking for a person, or writing angrily, hands over with a summary', async () => {
    const human = await customerWrites(
      env,
      inbox,
      'carla@example.com',
      'Can I talk to a real person about my return please?',
    );
    assert.equal((await explanationFor(human.messageId)).handoffReason, 'asked-for-human');
    assert.equal((await handoffsOf(human.conversationId))[0]?.reason, 'asked-for-human');
    const angry = await customerWrites(
      env,
      inbox,
      'dan@example.com',
      'This is TERRIBLE and unacceptable!!! Worst shop ever',
    );
    const explanation = await explanationFor(angry.messageId);
    assert.equal(explanation.handoffReason, 'negative-sentiment');
    assert.equal((await handoffsOf(angry.conversationId))[0]?.reason, 'negative-sentiment');
  });

  test('the explanations of a person go with their erasure', async () => {
    const em = env.em();
    em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
    const row = await em.findOne(AssistantAnswer, { profileId: { $ne: null } }, { filters: false });
    assert.ok(row?.profileId);
    const admin = env.adminClient.withToken(env.token('admin'));
    const pid = Buffer.from(`Profile:${row.profileId}`).toString('base64');
    const exported = await admin.ok(
      `mutation ($input: ExportProfileInput!) { exportProfile(input: $input) { ... on ExportProfilePayload { document } } }`,
      {
        input: { profileId: pid },
      },
    );
    assert.ok(exported.exportProfile.document.modules.assistant.answers.length > 0);
    const erased = await admin.ok(
      `mutation ($input: EraseProfileInput!) { eraseProfile(input: $input) { __typename ... on Error { message } } }`,
      {
        input: { profileId: pid, reason: 'data subject request' },
      },
    );
    assert.equal(erased.eraseProfile.__typename, 'EraseProfilePayload', JSON.stringify(erased));
    assert.equal(await env.em().count(AssistantAnswer, { profileId: row.profileId }, { filters: false }), 0);
  });
});

async function _explanation(id: string) {
  const agent = env.adminClient.withToken(env.token('agent'));
  const data = await agent.ok(
    `query ($id: ID!) { assistantExplanation(id: $id) { mode policyVersion rulesApplied model sources { title } } }`,
    { id },
  );
  return data.assistantExplanation;
}
