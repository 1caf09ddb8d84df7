// What the assistant tests share: published content through the Admin graph (the real editorial
// workflow, indexed by the real search job), a recording channel, and inbound customer messages.
import assert from 'node:assert/strict';
import {
  type ChannelInboxEntity,
  type ChatChunk,
  type ChatRequest,
  type ChatResult,
  createInbox,
  defineChannel,
  definePlugin,
  type LlmProvider,
  type OutboundMessage,
  receiveInbound,
  serviceLevels,
  WORKSPACE_FILTER,
} from '@atrium/core';
import { type TestEnvironment, waitFor } from '@atrium/core/testing';

export const sentByChannel: OutboundMessage[] = [];

/** A channel that records what it is asked to send: conversations need one to reply through. */
export const recordingChannelPlugin = definePlugin(() => ({
  name: 'assistant-test-channel',
  compatibility: '^1.0.0',
  channels: [
    defineChannel({
      code: 'assistant-test',
      label: 'Recording channel (tests)',
      args: {},
      capabilities: { richText: false, attachments: false, templates: false, typing: false },
      addressType: 'email',
      fn: async (message) => {
        sentByChannel.push(message);
        return { providerMessageId: `sent-${message.id}` };
      },
    }),
  ],
}));

const mutation = (name: string, body: string) =>
  `mutation ($input: ${name[0]?.toUpperCase()}${name.slice(1)}Input!) { ${name}(input: $input) { __typename ${body} ... on Error { code message } } }`;

/** The `en` locale and an `article` type (title, body): what the tests publish. */
export async function prepareContent(env: TestEnvironment): Promise<void> {
  const admin = env.adminClient.withToken(env.token('admin'));
  const locale = await admin.ok(mutation('setLocale', ''), { input: { code: 'en', fallback: null } });
  assert.equal(locale.setLocale.__typename, 'SetLocalePayload', JSON.stringify(locale));
  const type = await admin.ok(
    `mutation ($input: CreateContentTypeInput!) { createContentType(input: $input) { __typename ... on ValidationError { field message } } }`,
    {
      input: {
        key: 'article',
        name: 'Help article',
        fields: [
          { key: 'title', kind: 'TEXT', required: true, localized: true },
          { key: 'body', kind: 'TEXT', required: true, localized: true },
        ],
      },
    },
  );
  assert.equal(type.createContentType.__typename, 'CreateContentTypePayload', JSON.stringify(type));
}

/** Publishes an article through the editorial workflow and waits until search finds it. */
export async function publishArticle(
  env: TestEnvironment,
  article: { key: string; title: string; body: string; visibility?: 'PUBLIC' | 'INTERNAL' },
): Promise<string> {
  const editor = env.adminClient.withToken(env.token('editor'));
  const reviewer = env.adminClient.withToken(env.token('reviewer'));
  const created = await editor.ok(mutation('createEntry', '... on CreateEntryPayload { entry { id } }'), {
    input: {
      type: 'article',
      key: article.key,
      fields: { en: { title: article.title, body: article.body } },
      visibility: article.visibility ?? 'PUBLIC',
    },
  });
  const id = created.createEntry.entry?.id as string;
  assert.ok(id, JSON.stringify(created));
  for (const [client, name] of [
    [editor, 'submitEntry'],
    [reviewer, 'approveEntry'],
    [editor, 'publishEntry'],
  ] as const) {
    const data = await client.ok(mutation(name, ''), { input: { id } });
    assert.ok(!data[name].code, JSON.stringify(data));
  }
  const rowId = Buffer.from(id, 'base64').toString().split(':')[1] as string;
  const workspaceId = (await env.workspace('demo')).id;
  const word = article.title.split(/\s+/).at(-1)?.replace(/\W/g, '') ?? article.key;
  await waitFor(
    async () =>
      (
        await env.atrium.search.search({ workspaceId, collections: ['content'], query: word, limit: 100 })
      ).hits.some((h) => h.id === rowId),
    15000,
    `search to index ${article.key}`,
  );
  return rowId;
}

export async function createTestInbox(env: TestEnvironment): Promise<ChannelInboxEntity> {
  const workspaceId = (await env.workspace('demo')).id;
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  const channels = env.atrium.runtimeOf('assistant').channels;
  const { inbox } = await em.transactional((tx) =>
    createInbox(tx, workspaceId, channels, { channel: 'assistant-test', name: 'Test inbox' }),
  );
  return inbox;
}

let counter = 0;

/** A customer message arriving on the inbox, as a channel's webhook would deliver it. */
export async function customerWrites(
  env: TestEnvironment,
  inbox: ChannelInboxEntity,
  from: string,
  text: string,
  language = 'en',
): Promise<{ conversationId: string; messageId: string; profileId: string }> {
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: inbox.workspace });
  const received = await em.transactional((tx) =>
    receiveInbound(
      tx,
      inbox,
      {
        providerMessageId: `in-${Date.now()}-${++counter}`,
        from: { identities: [{ type: 'email', value: from }] },
        text,
        language,
      },
      serviceLevels(env.atrium.settings),
    ),
  );
  return {
    conversationId: received.conversation.id,
    messageId: received.message.id,
    profileId: received.conversation.profileId,
  };
}

/**
 * A model that says what the test tells it (a compromised model that obeys the attacker), and
 * records every request: what the policy must hold against whatever comes back.
 */
export class ScriptedModel implements LlmProvider {
  readonly kind = 'scripted';
  readonly model = 'compromised';
  readonly embedModel = null;
  readonly requests: ChatRequest[] = [];
  private readonly script: (request: ChatRequest) => { text: string; toolCalls?: ChatChunk['toolCalls'] };
  constructor(script: ScriptedModel['script']) {
    this.script = script;
  }
  async chat(request: ChatRequest): Promise<ChatResult> {
    this.requests.push(request);
    const { text, toolCalls } = this.script(request);
    return {
      content: text,
      toolCalls: toolCalls ?? [],
      model: this.model,
      promptTokens: 1,
      completionTokens: 1,
      durationMs: 1,
    };
  }
  async *chatStream(request: ChatRequest): AsyncGenerator<ChatChunk> {
    this.requests.push(request);
    const { text, toolCalls } = this.script(request);
    for (let i = 0; i < text.length; i += 7)
      yield { content: text.slice(i, i + 7), done: false, toolCalls: [] };
    yield { content: '', done: true, toolCalls: toolCalls ?? [] };
  }
  async embed(): Promise<number[][]> {
    return [];
  }
  async health(): Promise<void> {}
}
