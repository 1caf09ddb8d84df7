// Without an LLM (no OLLAMA_URL), or with one that is down, the assistant answers extractively:
// the best passage as written, cited, and it says so. It never makes anything up.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OllamaProvider, WORKSPACE_FILTER } from '@atrium/core';
import { createTestEnvironment, type TestEnvironment, waitFor } from '@atrium/core/testing';
import { answerQuestion } from './answer.ts';
import { assistantConfig } from './config.ts';
import { AssistantAnswer } from './entities.ts';
import { assistantPlugin } from './index.ts';
import { DEFAULT_POLICY } from './policy.ts';
import {
  createTestInbox,
  customerWrites,
  prepareContent,
  publishArticle,
  recordingChannelPlugin,
  sentByChannel,
} from './test-support.ts';

const PASSAGE = 'Refunds arrive within 5 business days after we receive the parcel.';
let env: TestEnvironment;
let workspaceId: string;
let articleId: string;

before(async () => {
  env = await createTestEnvironment({ plugins: [recordingChannelPlugin(), assistantPlugin()] });
  workspaceId = (await env.workspace('demo')).id;
  await prepareContent(env);
  articleId = await publishArticle(env, {
    key: 'refunds',
    title: 'Refund times',
    body: `Returns are free. ${PASSAGE} Gift cards cannot be refunded.`,
  });
});
after(() => env?.destroy());

describe('extractive answers', () => {
  test('no LLM configured: the best passage, quoted and cited, and the answer says how it was made', async () => {
    const agent = env.adminClient.withToken(env.token('agent'));
    const data = await agent.ok(
      `mutation { askAssistant(question: "When do refunds arrive?") { __typename ... on AssistantAnswer { text mode confidence explanationId sources { ref documentId title } } } }`,
    );
    const answer = data.askAssistant;
    assert.equal(answer.mode, 'EXTRACTIVE');
    assert.ok(answer.text.includes(PASSAGE), answer.text);
    assert.match(answer.text, /No language model is available/);
    assert.match(answer.text, /\[1\]/);
    assert.deepEqual(
      answer.sources.map((s: { documentId: string }) => s.documentId),
      [articleId],
    );
    const explained = await agent.ok(
      `query ($id: ID!) { assistantExplanation(id: $id) { mode model rulesApplied } }`,
      { id: answer.explanationId },
    );
    assert.equal(explained.assistantExplanation.model, null);
    assert.ok(explained.assistantExplanation.rulesApplied.includes('no-llm-configured'));
  });

  test('in a conversation too: the customer gets the cited passage', async () => {
    const inbox = await createTestInbox(env);
    const asked = await customerWrites(env, inbox, 'erik@example.com', 'How long until my refund arrives?');
    const row = await waitFor(
      () => env.em().findOne(AssistantAnswer, { questionMessageId: asked.messageId }, { filters: false }),
      20000,
      'the answer',
    );
    assert.equal(row.mode, 'extractive');
    await waitFor(
      () => sentByChannel.find((m) => m.conversationId === asked.conversationId),
      15000,
      'the reply',
    );
    assert.ok(sentByChannel.find((m) => m.conversationId === asked.conversationId)?.text?.includes(PASSAGE));
    const agent = env.adminClient.withToken(env.token('agent'));
    const summary = await agent.ok(
      `query ($id: ID!) { assistantConversationSummary(conversationId: $id) { ... on AssistantConversationSummary { mode summary intent model } } }`,
      { id: Buffer.from(`Conversation:${asked.conversationId}`).toString('base64') },
    );
    assert.deepEqual(summary.assistantConversationSummary, {
      mode: 'EXTRACTIVE',
      summary: 'The customer wrote: "How long until my refund arrives?"',
      intent: 'refund',
      model: null,
    });
  });

  test('an LLM that is down: the answer falls back to the passage and records why', async () => {
    const em = env.em();
    em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
    const down = new OllamaProvider({ url: 'http://127.0.0.1:9', model: 'm', timeoutMs: 3000 });
    const outcome = await answerQuestion(
      {
        runtime: { ...env.atrium.runtimeOf('assistant'), config: assistantConfig.parse({}) },
        llm: down,
        em,
        policy: DEFAULT_POLICY,
      },
      { workspaceId, question: 'When do refunds arrive?', audience: 'customer' },
    );
    assert.equal(outcome.mode, 'extractive');
    assert.ok(outcome.text.includes(PASSAGE));
    assert.ok(outcome.rulesApplied.includes('llm-failed:LLM_UNAVAILABLE'));
    assert.equal(outcome.model, null);
  });

  test('nothing relevant: no passage is made to fit', async () => {
    const agent = env.adminClient.withToken(env.token('agent'));
    const data = await agent.ok(
      `mutation { askAssistant(question: "Which telescope should I buy?") { ... on AssistantAnswer { text mode sources { ref } handoffSuggested } } }`,
    );
    assert.equal(data.askAssistant.mode, 'REFUSED');
    assert.deepEqual(data.askAssistant.sources, []);
    assert.equal(data.askAssistant.handoffSuggested, true);
    assert.ok(!data.askAssistant.text.includes(PASSAGE));
  });
});
