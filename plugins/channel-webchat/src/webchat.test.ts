import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Conversation, CustomerSession, Message, schemaDrift } from '@atrium/core';
import {
  createTestEnvironment,
  type GraphQLClient,
  type TestEnvironment,
  waitFor,
} from '@atrium/core/testing';
import { userHashOf } from './identity.ts';
import { webchatPlugin } from './index.ts';
import {
  createWebchatInbox,
  EventStream,
  globalId,
  openVisitor,
  postIdentify,
  postSession,
  SHOP,
  sendAsVisitor,
  visitorMessages,
  type WebchatTestInbox,
} from './test-support.ts';

let env: TestEnvironment;
let admin: GraphQLClient;
let agent: GraphQLClient;
let inbox: WebchatTestInbox;

before(async () => {
  env = await createTestEnvironment({
    plugins: [webchatPlugin({ sessionsPerSecondPerAddress: 2, streamLifetimeSeconds: 30 })],
  });
  admin = env.adminClient.withToken(env.token('admin'));
  agent = env.adminClient.withToken(env.token('agent'));
  inbox = await createWebchatInbox(admin);
});
after(() => env?.destroy());

const REPLY = `mutation ($input: ReplyToConversationInput!) {
  replyToConversation(input: $input) { __typename ... on Error { message } }
}`;
const TYPING = `mutation ($input: SendTypingIndicatorInput!) {
  sendTypingIndicator(input: $input) { __typename }
}`;
const NOTE = `mutation ($input: AddConversationNoteInput!) {
  addConversationNote(input: $input) { __typename ... on Error { message } }
}`;

/** The visitor's live conversation row, as staff sees it. */
async function conversationOfProfile(profileId: string) {
  return env
    .em()
    .findOne(Conversation, { profileId, status: { $ne: 'resolved' }, mergedInto: null }, { filters: false });
}

async function sessionRow(token: string) {
  const viewer = await env.publicClient.withToken(token).ok('{ viewer { subject } }');
  const id = String(viewer.viewer.subject).replace('customer-session:', '');
  return env.em().findOneOrFail(CustomerSession, { id }, { filters: false });
}

async function reply(conversationId: string, text: string) {
  const data = await agent.ok(REPLY, {
    input: {
      conversationId: globalId('Conversation', conversationId),
      text,
      idempotencyKey: crypto.randomUUID(),
    },
  });
  assert.equal(data.replyToConversation.__typename, 'ReplyToConversationPayload', JSON.stringify(data));
}

describe('sessions', () => {
  test('a page on an allowed origin opens a session: a customer token, an anonymous profile, the greeting', async () => {
    const answer = await postSession(env, { inboxId: inbox.rowId, locale: 'de-CH' });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.match(answer.body.token, /^cst_/);
    assert.equal(answer.body.greeting, 'Hallo!');
    assert.equal(answer.headers.get('access-control-allow-origin'), SHOP);
    const session = await sessionRow(answer.body.token);
    assert.equal(session.issuedBy, 'channel-webchat');
    assert.equal(session.inbox, inbox.rowId);
    assert.deepEqual(session.identities, [{ type: 'anonymous_id', value: answer.body.anonymousId }]);
    const viewer = await env.publicClient.withToken(answer.body.token).ok('{ viewer { kind scopes } }');
    assert.deepEqual(viewer.viewer, { kind: 'customer', scopes: ['customer'] });
  });

  test('a foreign origin is refused without CORS headers, and nothing is created', async () => {
    const before = await env.em().count(CustomerSession, {}, { filters: false });
    const answer = await postSession(env, { inboxId: inbox.rowId }, { origin: 'https://evil.example' });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error?.code, 'ORIGIN_NOT_ALLOWED');
    assert.equal(answer.headers.get('access-control-allow-origin'), null);
    assert.equal(await env.em().count(CustomerSession, {}, { filters: false }), before);

    const preflight = await fetch(`${env.url}/plugins/channel-webchat/sessions`, {
      method: 'OPTIONS',
      headers: { origin: SHOP, 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 204);
  });

  test('unknown inboxes and bad bodies get a 4xx that says what is wrong', async () => {
    const unknown = await postSession(env, { inboxId: crypto.randomUUID() });
    assert.equal(unknown.status, 404);
    const bad = await postSession(env, { inboxId: 'nope' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.field, 'inboxId');
  });

  test('sessions are rate-limited per client address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await postSession(env, { inboxId: inbox.rowId }, { address: '192.0.2.7' })).status);
    }
    assert.deepEqual(statuses.slice(0, 2), [201, 201]);
    assert.ok(statuses.slice(2).includes(429), statuses.join(','));
  });

  test('the widget script is served to any site', async () => {
    const response = await fetch(`${env.url}/plugins/channel-webchat/widget.js`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /javascript/);
    assert.equal(response.headers.get('cross-origin-resource-policy'), 'cross-origin');
    assert.match(await response.text(), /AtriumChat/);
  });
});

describe('the visitor writes and reads', () => {
  test('a message lands in the visitor’s conversation; a retry with the same key adds nothing', async () => {
    const visitor = await openVisitor(env, inbox);
    assert.equal(await visitorMessages(visitor.client), null, 'no conversation before the first message');
    const key = crypto.randomUUID();
    const first = await sendAsVisitor(visitor.client, 'Wo ist meine Bestellung?', key);
    assert.equal(first.__typename, 'SendWebchatMessagePayload', JSON.stringify(first));
    assert.equal(first.sentMessage.author, 'CUSTOMER');
    const again = await sendAsVisitor(visitor.client, 'Wo ist meine Bestellung?', key);
    assert.equal(again.sentMessage.id, first.sentMessage.id);
    const messages = await visitorMessages(visitor.client);
    assert.deepEqual(
      messages?.map((m) => m.text),
      ['Wo ist meine Bestellung?'],
    );
    const stored = await env.em().count(Message, { text: 'Wo ist meine Bestellung?' }, { filters: false });
    assert.equal(stored, 1);
  });

  test('bad input is a ValidationError and stores nothing', async () => {
    const visitor = await openVisitor(env, inbox);
    const empty = await sendAsVisitor(visitor.client, '   ');
    assert.equal(empty.__typename, 'ValidationError');
    const badKey = await sendAsVisitor(visitor.client, 'hi', 'x');
    assert.equal(badKey.__typename, 'ValidationError');
    assert.equal(await visitorMessages(visitor.client), null);
  });

  test('agent replies and typing reach the visitor’s stream; internal notes never do', async () => {
    const visitor = await openVisitor(env, inbox);
    await sendAsVisitor(visitor.client, 'Hallo, ist jemand da?');
    const session = await sessionRow(visitor.token);
    const conversation = await conversationOfProfile(session.profileId);
    assert.ok(conversation);

    const stream = new EventStream(`${env.url}/public/graphql`, visitor.token);
    try {
      await stream.next((e) => e.kind === 'READY', 10_000, 'READY');
      await agent.ok(NOTE, {
        input: { conversationId: globalId('Conversation', conversation.id), text: 'VIP, be nice' },
      });
      await agent.ok(TYPING, { input: { conversationId: globalId('Conversation', conversation.id) } });
      const typing = await stream.next((e) => e.kind === 'TYPING', 10_000, 'TYPING');
      assert.deepEqual({ typing: typing.typing, author: typing.author }, { typing: true, author: 'AGENT' });

      await reply(conversation.id, 'Ja, wie kann ich helfen?');
      const event = await stream.next(
        (e) => e.kind === 'MESSAGE' && e.message?.text === 'Ja, wie kann ich helfen?',
        15_000,
        'the reply',
      );
      assert.equal(event.message?.author, 'AGENT');
      assert.ok(
        !stream.events.some((e) => e.message?.text === 'VIP, be nice'),
        'internal notes stay internal',
      );
      const messages = await visitorMessages(visitor.client);
      assert.deepEqual(
        messages?.map((m) => [m.author, m.text]),
        [
          ['CUSTOMER', 'Hallo, ist jemand da?'],
          ['AGENT', 'Ja, wie kann ich helfen?'],
        ],
      );
      // The message row says the web chat delivered it.
      const delivered = await waitFor(
        () =>
          env.em().findOne(Message, { text: 'Ja, wie kann ich helfen?', status: 'sent' }, { filters: false }),
        10_000,
        'the reply marked sent',
      );
      assert.match(delivered.providerMessageId ?? '', /^webchat:/);
    } finally {
      stream.close();
    }
  });

  test('web chat carries no marketing', async () => {
    const visitor = await openVisitor(env, inbox);
    await sendAsVisitor(visitor.client, 'Newsletter?');
    const conversation = await conversationOfProfile((await sessionRow(visitor.token)).profileId);
    const data = await agent.ok(
      `mutation ($input: ReplyToConversationInput!) {
        replyToConversation(input: $input) { __typename ... on ValidationError { field message } }
      }`,
      {
        input: {
          conversationId: globalId('Conversation', conversation?.id as string),
          text: 'Sale!',
          purpose: 'MARKETING',
        },
      },
    );
    assert.equal(data.replyToConversation.__typename, 'ValidationError');
    assert.equal(data.replyToConversation.field, 'purpose');
  });
});

describe('visitors are kept apart', () => {
  test('one visitor never reads another visitor’s conversation', async () => {
    const anna = await openVisitor(env, inbox);
    const ben = await openVisitor(env, inbox);
    await sendAsVisitor(anna.client, 'Annas Geheimnis');
    assert.equal(await visitorMessages(ben.client), null);
    await sendAsVisitor(ben.client, 'Bens Frage');
    assert.deepEqual(
      (await visitorMessages(ben.client))?.map((m) => m.text),
      ['Bens Frage'],
    );
    // Ben's stream does not carry Anna's replies.
    const annaConversation = await conversationOfProfile((await sessionRow(anna.token)).profileId);
    const stream = new EventStream(`${env.url}/public/graphql`, ben.token);
    try {
      await stream.next((e) => e.kind === 'READY');
      await reply(annaConversation?.id as string, 'Nur für Anna');
      const annaStream = new EventStream(`${env.url}/public/graphql`, anna.token);
      try {
        await annaStream.next((e) => e.kind === 'READY');
        await waitFor(
          async () => (await visitorMessages(anna.client))?.some((m) => m.text === 'Nur für Anna'),
          15_000,
          'Anna sees her reply',
        );
      } finally {
        annaStream.close();
      }
      assert.ok(!stream.events.some((e) => e.message?.text === 'Nur für Anna'));
    } finally {
      stream.close();
    }
  });

  test('staff tokens cannot call customer fields; customer tokens cannot call admin fields', async () => {
    const staff = await env.publicClient
      .withToken(env.token('admin'))
      .query('{ webchatConversation { id } }');
    assert.equal(staff.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const visitor = await openVisitor(env, inbox);
    const onAdmin = await env.adminClient
      .withToken(visitor.token)
      .query('{ apiKeys { edges { node { id } } } }');
    assert.equal(onAdmin.status, 403);
    assert.equal(onAdmin.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const staffOnPublic = await visitor.client.query('{ publishedEntries { edges { node { key } } } }');
    assert.equal(staffOnPublic.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const anonymous = await env.publicClient.query('{ webchatConversation { id } }');
    assert.equal(anonymous.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  });

  test('a session opened for another workspace’s inbox sees only that workspace', async () => {
    await env.workspace('other');
    const otherAdmin = env.adminClient.withToken(env.token('admin', 'other'));
    const otherInbox = await createWebchatInbox(otherAdmin);
    const visitor = await openVisitor(env, otherInbox);
    const viewer = await visitor.client.ok('{ viewer { workspace { slug } } }');
    assert.equal(viewer.viewer.workspace.slug, 'other');
  });
});

describe('identity verification', () => {
  /** A signed-in customer with a conversation of their own, as the shop knows them. */
  async function knownCustomer(userId: string) {
    const visitor = await openVisitor(env, inbox);
    const answer = await postIdentify(env, visitor.token, {
      userId,
      userHash: userHashOf(userId, inbox.secret),
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await sendAsVisitor(visitor.client, `Frage von ${userId}`);
    return (await sessionRow(visitor.token)).profileId;
  }

  test('a wrong hash is refused and merges nothing', async () => {
    const userId = `user-${crypto.randomUUID()}`;
    const known = await knownCustomer(userId);
    const visitor = await openVisitor(env, inbox);
    await sendAsVisitor(visitor.client, 'Ich bin bestimmt der andere');
    const anonymous = (await sessionRow(visitor.token)).profileId;

    const forged = await postIdentify(env, visitor.token, {
      userId,
      userHash: userHashOf(userId, 'guessed'),
    });
    assert.equal(forged.status, 403);
    assert.equal(forged.body.error?.code, 'IDENTITY_NOT_VERIFIED');
    const missing = await postIdentify(env, visitor.token, { userId });
    assert.equal(missing.status, 403);

    const session = await sessionRow(visitor.token);
    assert.equal(session.profileId, anonymous);
    assert.equal(session.identities.length, 1);
    const merges = await env
      .em()
      .getConnection()
      .execute('select count(*)::int as n from profile_merge where survivor_id = ?', [known]);
    assert.equal(merges[0]?.n, 0);
    assert.deepEqual(
      (await visitorMessages(visitor.client))?.map((m) => m.text),
      ['Ich bin bestimmt der andere'],
    );
  });

  test('the right hash merges the anonymous profile into the customer’s, and the conversation follows', async () => {
    const userId = `user-${crypto.randomUUID()}`;
    const known = await knownCustomer(userId);
    const visitor = await openVisitor(env, inbox);
    await sendAsVisitor(visitor.client, 'Vor dem Login geschrieben');
    const anonymous = (await sessionRow(visitor.token)).profileId;
    assert.notEqual(anonymous, known);

    const answer = await postIdentify(env, visitor.token, {
      userId,
      userHash: userHashOf(userId, inbox.secret),
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.merged, true);
    assert.equal((await sessionRow(visitor.token)).profileId, known);
    const profiles = await env
      .em()
      .getConnection()
      .execute('select count(*)::int as n from profile where id = ?', [anonymous]);
    assert.equal(profiles[0]?.n, 0, 'the anonymous profile was merged away');

    // The conversations module adopts the merged profile's conversation after the commit.
    const texts = await waitFor(
      async () => {
        const messages = (await visitorMessages(visitor.client))?.map((m) => m.text) ?? [];
        return messages.includes('Vor dem Login geschrieben') && messages.includes(`Frage von ${userId}`)
          ? messages
          : null;
      },
      15_000,
      'one conversation with both messages',
    );
    assert.equal(texts.length, 2);
    const live = await env
      .em()
      .find(
        Conversation,
        { profileId: known, status: { $ne: 'resolved' }, mergedInto: null },
        { filters: false },
      );
    assert.equal(live.length, 1);
  });

  test('identify needs a web chat session, and a foreign origin is refused', async () => {
    const none = await postIdentify(env, 'not-a-session', { userId: 'u1', userHash: 'x' });
    assert.equal(none.status, 401);
    const visitor = await openVisitor(env, inbox);
    const foreign = await postIdentify(
      env,
      visitor.token,
      { userId: 'u1', userHash: userHashOf('u1', inbox.secret) },
      'https://evil.example',
    );
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error?.code, 'ORIGIN_NOT_ALLOWED');
  });

  test('an inbox that does not require verification accepts a bare user id', async () => {
    const open = await createWebchatInbox(admin, { requireIdentityVerification: false });
    const visitor = await openVisitor(env, open);
    const answer = await postIdentify(env, visitor.token, { userId: `user-${crypto.randomUUID()}` });
    assert.equal(answer.status, 200);
    // A hash that is given must still be right.
    const wrong = await postIdentify(env, visitor.token, { userId: 'u2', userHash: 'ab'.repeat(32) });
    assert.equal(wrong.status, 403);
  });
});

describe('ending sessions', () => {
  test('logout revokes the token: GraphQL, the stream and identify answer 401', async () => {
    const visitor = await openVisitor(env, inbox);
    await visitor.client.ok('mutation { endCustomerSession { endedAt } }');
    const after = await visitor.client.query('{ webchatConversation { id } }');
    assert.equal(after.status, 401);
    const stream = new EventStream(`${env.url}/public/graphql`, visitor.token);
    assert.equal(await stream.status, 401);
    stream.close();
    const identify = await postIdentify(env, visitor.token, { userId: 'u1', userHash: 'x' });
    assert.equal(identify.status, 401);
  });

  test('invalid inbox settings are refused with the field named', async () => {
    const data = await admin.ok(
      `mutation ($input: CreateChannelInboxInput!) {
        createChannelInbox(input: $input) { __typename ... on ValidationError { field message } }
      }`,
      {
        input: {
          channel: 'webchat',
          name: 'Bad',
          settings: { allowedOrigins: ['https://shop.example/path'] },
        },
      },
    );
    assert.equal(data.createChannelInbox.__typename, 'ValidationError');
    assert.equal(data.createChannelInbox.field, 'allowedOrigins[0]');
  });

  test('the migrations create exactly what the entities describe', async () => {
    assert.equal(await schemaDrift(env.atrium.orm), '');
  });
});
