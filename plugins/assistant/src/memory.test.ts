// Memory across sessions and channels: only with `ai_memory` consent, viewable, correctable and
// deletable by the customer and by agents, gone when consent is withdrawn or the profile erased.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CustomerSession, openCustomerSession, WORKSPACE_FILTER } from '@atrium/core';
import { createTestEnvironment, type TestEnvironment, waitFor } from '@atrium/core/testing';
import { answerQuestion } from './answer.ts';
import { assistantConfig } from './config.ts';
import { AssistantAnswer, AssistantMemory } from './entities.ts';
import { assistantPlugin } from './index.ts';
import { DEFAULT_POLICY } from './policy.ts';
import {
  createTestInbox,
  customerWrites,
  prepareContent,
  publishArticle,
  recordingChannelPlugin,
  ScriptedModel,
} from './test-support.ts';

let env: TestEnvironment;
let workspaceId: string;

before(async () => {
  env = await createTestEnvironment({ plugins: [recordingChannelPlugin(), assistantPlugin()] });
  workspaceId = (await env.workspace('demo')).id;
  await prepareContent(env);
  await publishArticle(env, {
    key: 'delivery',
    title: 'Delivery options',
    body: 'We deliver by parcel service or to a pickup station. Delivery takes 3 days.',
  });
});
after(() => env?.destroy());

const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
const MEMORIES = `query ($p: ID) { assistantMemories(profileId: $p) { id kind text source } }`;

async function setConsent(profileId: string, granted: boolean) {
  const admin = env.adminClient.withToken(env.token('admin'));
  const data = await admin.ok(
    `mutation ($input: SetConsentInput!) { setConsent(input: $input) { __typename ... on Error { message } } }`,
    {
      input: {
        profileId: gid('Profile', profileId),
        purpose: 'AI_MEMORY',
        granted,
        source: 'test',
        policyVersion: 'v1',
      },
    },
  );
  assert.equal(data.setConsent.__typename, 'SetConsentPayload', JSON.stringify(data));
}

async function answered(messageId: string) {
  return waitFor(
    () => env.em().findOne(AssistantAnswer, { questionMessageId: messageId }, { filters: false }),
    20000,
    'the answer',
  );
}

const memoriesOf = (profileId: string) => env.em().find(AssistantMemory, { profileId }, { filters: false });

test('nothing is remembered without ai_memory consent; with it, facts carry across conversations into the prompt', async () => {
  const inbox = await createTestInbox(env);
  const first = await customerWrites(
    env,
    inbox,
    'mia@example.com',
    'I prefer delivery to a pickup station. What delivery options are there?',
  );
  await answered(first.messageId);
  assert.deepEqual(await memoriesOf(first.profileId), [], 'no consent: nothing kept');

  await setConsent(first.profileId, true);
  const second = await customerWrites(
    env,
    inbox,
    'mia@example.com',
    'I prefer delivery to a pickup station, please note it.',
  );
  await answered(second.messageId);
  const kept = await memoriesOf(first.profileId);
  assert.deepEqual(
    kept.map((m) => [m.kind, m.text, m.source]),
    [['preference', 'I prefer delivery to a pickup station, please note it', 'customer']],
  );

  // A later question (another session, another channel: the profile is what counts) uses it.
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  const model = new ScriptedModel(() => ({ text: 'Pickup stations work [1].' }));
  const outcome = await answerQuestion(
    {
      runtime: { ...env.atrium.runtimeOf('assistant'), config: assistantConfig.parse({}) },
      llm: model,
      em,
      policy: DEFAULT_POLICY,
    },
    {
      workspaceId,
      question: 'Which delivery options do you have?',
      audience: 'customer',
      profileId: first.profileId,
    },
  );
  assert.ok(outcome.rulesApplied.includes('memory-used'));
  const user = model.requests[0]?.messages.find((m) => m.role === 'user')?.content ?? '';
  assert.match(user, /<memory>\n- preference: I prefer delivery to a pickup station/);
  assert.ok(
    !(model.requests[0]?.messages.find((m) => m.role === 'system')?.content ?? '').includes('pickup station'),
  );

  // Someone else's question never carries Mia's memory.
  const other = new ScriptedModel(() => ({ text: 'Parcel service [1].' }));
  await answerQuestion(
    {
      runtime: { ...env.atrium.runtimeOf('assistant'), config: assistantConfig.parse({}) },
      llm: other,
      em,
      policy: DEFAULT_POLICY,
    },
    { workspaceId, question: 'Which delivery options do you have?', audience: 'customer', profileId: null },
  );
  assert.ok(!JSON.stringify(other.requests).includes('pickup station, please'));
});

test('customers see, correct and delete their own memories; agents those of a profile', async () => {
  const inbox = await createTestInbox(env);
  const asked = await customerWrites(
    env,
    inbox,
    'noah@example.com',
    'I live in Hamburg. My shoe size is 44.',
  );
  await answered(asked.messageId);
  assert.deepEqual(await memoriesOf(asked.profileId), []);
  await setConsent(asked.profileId, true);
  await customerWrites(env, inbox, 'noah@example.com', 'I live in Hamburg. My shoe size is 44.');
  await waitFor(async () => (await memoriesOf(asked.profileId)).length === 2, 20000, 'two memories');

  // The customer, through a customer session for their profile.
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  const session = await em.transactional((tx) =>
    openCustomerSession(tx, { workspaceId, issuedBy: 'assistant-test', ttlHours: 1 }),
  );
  // The session stands for Noah (as an identified web chat session would).
  await em.nativeUpdate(CustomerSession, { id: session.session.id }, { profileId: asked.profileId });
  const customer = env.publicClient.withToken(session.token);
  const own = (await customer.ok(MEMORIES)).assistantMemories;
  assert.equal(own.length, 2);
  const size = own.find((m: { text: string }) => /size/.test(m.text));
  const corrected = await customer.ok(
    `mutation ($input: CorrectAssistantMemoryInput!) { correctAssistantMemory(input: $input) { __typename ... on CorrectAssistantMemoryPayload { memory { text source } } } }`,
    { input: { id: size.id, text: 'my shoe size is 45' } },
  );
  assert.deepEqual(corrected.correctAssistantMemory.memory, {
    text: 'my shoe size is 45',
    source: 'customer',
  });

  // Agents read and delete a profile's memories.
  const agent = env.adminClient.withToken(env.token('agent'));
  const seen = (await agent.ok(MEMORIES, { p: gid('Profile', asked.profileId) })).assistantMemories;
  assert.deepEqual(seen.map((m: { text: string }) => m.text).sort(), [
    'I live in Hamburg',
    'my shoe size is 45',
  ]);
  const forgot = await agent.ok(
    `mutation ($input: ForgetAssistantMemoryInput!) { forgetAssistantMemory(input: $input) { __typename ... on ForgetAssistantMemoryPayload { forgotten } } }`,
    { input: { id: size.id, profileId: gid('Profile', asked.profileId) } },
  );
  assert.equal(forgot.forgetAssistantMemory.forgotten, 1);
  // The customer deletes the rest.
  const all = await customer.ok(
    `mutation { forgetAssistantMemory(input: {}) { ... on ForgetAssistantMemoryPayload { forgotten } } }`,
  );
  assert.equal(all.forgetAssistantMemory.forgotten, 1);
  assert.deepEqual(await memoriesOf(asked.profileId), []);
});

test('withdrawing ai_memory forgets everything; erasure takes memories with the profile', async () => {
  const inbox = await createTestInbox(env);
  const asked = await customerWrites(env, inbox, 'olga@example.com', 'hello');
  await answered(asked.messageId);
  await setConsent(asked.profileId, true);
  await customerWrites(env, inbox, 'olga@example.com', 'I am allergic to latex.');
  await waitFor(async () => (await memoriesOf(asked.profileId)).length === 1, 20000, 'the memory');
  await setConsent(asked.profileId, false);
  await waitFor(
    async () => (await memoriesOf(asked.profileId)).length === 0,
    15000,
    'memories to be forgotten',
  );

  await setConsent(asked.profileId, true);
  await customerWrites(env, inbox, 'olga@example.com', 'I live in Graz.');
  await waitFor(async () => (await memoriesOf(asked.profileId)).length === 1, 20000, 'the memory');
  const admin = env.adminClient.withToken(env.token('admin'));
  const exported = await admin.ok(
    `mutation ($input: ExportProfileInput!) { exportProfile(input: $input) { ... on ExportProfilePayload { document } } }`,
    { input: { profileId: gid('Profile', asked.profileId) } },
  );
  assert.deepEqual(
    exported.exportProfile.document.modules.assistant.memories.map((m: { text: string }) => m.text),
    ['I live in Graz'],
  );
  const erased = await admin.ok(
    `mutation ($input: EraseProfileInput!) { eraseProfile(input: $input) { __typename ... on Error { message } } }`,
    { input: { profileId: gid('Profile', asked.profileId), reason: 'data subject request' } },
  );
  assert.equal(erased.eraseProfile.__typename, 'EraseProfilePayload', JSON.stringify(erased));
  assert.deepEqual(await memoriesOf(asked.profileId), []);
});
