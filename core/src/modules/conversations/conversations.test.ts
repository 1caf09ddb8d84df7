import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from '../../db/sql.ts';
import { testChannelPlugin, testChannelRecorder } from '../../testing/fixtures/test-channel-plugin.ts';
import {
  createTestEnvironment,
  type GraphQLClient,
  sweepForPersonalData,
  type TestEnvironment,
  waitFor,
} from '../../testing/index.ts';
import type { WorkspaceEntity } from '../workspaces/entities.ts';
import { WAKE_SNOOZED_JOB } from './jobs.ts';
import {
  conversationOfProviderId,
  count,
  createTestInbox,
  globalId,
  inbound,
  postWebhook,
  subscribe,
  type TestInbox,
} from './test-fixtures.ts';

const REPLY = `mutation ($input: ReplyToConversationInput!) {
  replyToConversation(input: $input) {
    __typename
    ... on ReplyToConversationPayload { reply { id status text direction channel } conversation { id firstResponseAt } }
    ... on ConsentRequiredError { code purpose message }
    ... on ValidationError { code field message }
    ... on NotFoundError { code message }
  }
}`;
const MESSAGE = `query ($id: ID!) { node(id: $id) { ... on Message { id status attempts error providerMessageId sentAt deliveredAt } } }`;
const CONVERSATION = `query ($id: ID!) {
  conversation(id: $id) {
    id status priority channels assignee tags language snoozedUntil firstResponseDueAt resolutionDueAt
    firstResponseBreached resolutionBreached lastMessageAt mergedInto { id }
    profile { id }
    lastInbox { channel }
    messages(first: 50) { edges { node { id text direction author internal channel status } } }
  }
}`;

describe('conversations', () => {
  let env: TestEnvironment;
  let demo: WorkspaceEntity;
  let admin: GraphQLClient;
  let agent: GraphQLClient;
  let mail: TestInbox;
  let sms: TestInbox;

  const messageOf = async (id: string) => (await agent.ok(MESSAGE, { id })).node;
  const conversation = async (rowId: string) =>
    (await agent.ok(CONVERSATION, { id: globalId('Conversation', rowId) })).conversation;
  const reply = async (conversationRowId: string, input: Record<string, unknown>) =>
    (
      await agent.ok(REPLY, {
        input: { conversationId: globalId('Conversation', conversationRowId), ...input },
      })
    ).replyToConversation;
  const waitForStatus = (id: string, status: string, timeoutMs = 15000) =>
    waitFor(
      async () => {
        const message = await messageOf(id);
        return message.status === status ? message : null;
      },
      timeoutMs,
      `message status ${status}`,
    );

  before(async () => {
    env = await createTestEnvironment({
      plugins: [testChannelPlugin()],
      // Failing sends are retried twice, 1 s then 2 s later: the retry tests stay short.
      settings: { CONVERSATION_DELIVERY_RETRIES: '2', CONVERSATION_DELIVERY_RETRY_DELAY_S: '1' },
    });
    demo = await env.workspace('demo');
    admin = env.adminClient.withToken(env.token('admin'));
    agent = env.adminClient.withToken(env.token('agent'));
    mail = await createTestInbox(admin, 'test', 'Support mailbox');
    sms = await createTestInbox(admin, 'test2', 'Support number');
  });
  after(() => env?.destroy());

  describe('inbound through the webhook', () => {
    test('a bad signature is refused with 401 and stores nothing', async () => {
      const tables = ['message', 'conversation', 'profile', 'outbox_event'];
      const before = await Promise.all(tables.map((t) => count(env, t)));
      const answer = await postWebhook(
        env,
        mail,
        { messages: [{ id: 'forged-1', from: { email: 'mallory@example.com' }, text: 'hi' }] },
        { signature: 'deadbeef' },
      );
      assert.equal(answer.status, 401);
      assert.equal((answer.body.error as { code: string }).code, 'WEBHOOK_SIGNATURE_INVALID');
      const missing = await postWebhook(
        env,
        mail,
        { messages: [{ id: 'forged-2', from: { email: 'mallory@example.com' }, text: 'hi' }] },
        { signature: '' },
      );
      assert.equal(missing.status, 401);
      assert.deepEqual(await Promise.all(tables.map((t) => count(env, t))), before);
    });

    test('an unknown inbox is 404 and a body the channel cannot read is 400', async () => {
      const unknown = await fetch(`${env.url}/channels/00000000-0000-4000-8000-000000000000/webhook`, {
        method: 'POST',
        body: '{}',
      });
      assert.equal(unknown.status, 404);
      const bad = await postWebhook(env, mail, { messages: [{ id: 'x', from: {}, text: 'no sender' }] });
      assert.equal(bad.status, 400);
      assert.equal((bad.body.error as { field: string }).field, 'from');
    });

    test('a message opens one conversation; the same provider id twice is one message', async () => {
      const message = {
        id: 'in-anna-1',
        from: { email: 'Anna@Example.com', name: 'Anna' },
        text: 'Where is my order?',
      };
      await inbound(env, mail, message);
      await inbound(env, mail, message);
      const rowId = await conversationOfProviderId(env, 'in-anna-1');
      assert.equal(await count(env, 'message', 'provider_message_id = $1', ['in-anna-1']), 1);
      // A provider's retry racing its first request: both acknowledged, one message.
      const racing = { id: 'in-anna-race', from: { email: 'anna@example.com' }, text: 'Twice at once' };
      await Promise.all([inbound(env, mail, racing), inbound(env, mail, racing), inbound(env, mail, racing)]);
      assert.equal(await count(env, 'message', 'provider_message_id = $1', ['in-anna-race']), 1);
      const thread = await conversation(rowId);
      assert.equal(thread.status, 'OPEN');
      assert.deepEqual(thread.channels, ['test']);
      assert.equal(thread.lastInbox.channel, 'test');
      assert.ok(thread.profile?.id, 'the sender became a profile');
      assert.ok(thread.firstResponseDueAt && thread.resolutionDueAt);
      assert.equal(thread.firstResponseBreached, false);
      assert.equal(thread.messages.edges.length, 2);
      assert.deepEqual(thread.messages.edges[1].node, {
        id: thread.messages.edges[1].node.id,
        text: 'Where is my order?',
        direction: 'INBOUND',
        author: 'CUSTOMER',
        internal: false,
        channel: 'test',
        status: 'RECEIVED',
      });
      const [opened] = await sql<{ n: number }>(
        env.em(),
        `select count(*)::int as n from outbox_event where type = 'conversation.opened' and subject = $1`,
        [rowId],
      );
      assert.equal(opened?.n, 1);
    });

    test('writing on a second channel while the conversation is open joins the same conversation', async () => {
      await inbound(env, mail, { id: 'in-ben-1', from: { email: 'ben@example.com' }, text: 'Hello by mail' });
      await inbound(env, sms, {
        id: 'in-ben-2',
        from: { email: 'ben@example.com', phone: '+41 79 555 12 34' },
        text: 'And by phone',
      });
      const first = await conversationOfProviderId(env, 'in-ben-1');
      assert.equal(await conversationOfProviderId(env, 'in-ben-2'), first);
      const thread = await conversation(first);
      assert.deepEqual(thread.channels, ['test', 'test2']);
      assert.equal(thread.lastInbox.channel, 'test2');
      assert.equal(thread.messages.edges.length, 2);
    });
  });

  describe('replies', () => {
    let annaConversation: string;
    before(async () => {
      annaConversation = await conversationOfProviderId(env, 'in-anna-1');
    });

    test('a reply is queued, delivered by the job, and marked sent', async () => {
      const answer = await reply(annaConversation, {
        text: 'It ships today.',
        args: { subject: 'Your order' },
      });
      assert.equal(answer.__typename, 'ReplyToConversationPayload');
      assert.equal(answer.reply.direction, 'OUTBOUND');
      assert.ok(answer.conversation.firstResponseAt, 'the first agent reply stops the first-response clock');
      const sent = await waitForStatus(answer.reply.id, 'SENT');
      assert.equal(sent.attempts, 1);
      assert.ok(sent.sentAt);
      const rowId = Buffer.from(answer.reply.id, 'base64').toString().split(':')[1] as string;
      const [send] = testChannelRecorder.delivered(rowId);
      assert.equal(send?.message.to, 'anna@example.com');
      assert.equal(
        send?.message.idempotencyKey,
        rowId,
        'the message id is the idempotency key providers see',
      );
      assert.deepEqual(send?.message.args, { subject: 'Your order' });
      assert.deepEqual(
        send?.message.thread,
        ['in-anna-1', 'in-anna-race'],
        'the thread: earlier provider ids',
      );
      assert.equal(sent.providerMessageId, `test-${rowId}`);

      // The provider reports delivery on the webhook.
      const status = await postWebhook(env, mail, {
        statuses: [{ id: sent.providerMessageId, status: 'delivered' }],
      });
      assert.equal(status.status, 200);
      const delivered = await messageOf(answer.reply.id);
      assert.equal(delivered.status, 'DELIVERED');
      assert.ok(delivered.deliveredAt);
    });

    test('the same idempotency key twice is one message and one send', async () => {
      const input = { text: 'Once only', idempotencyKey: 'agent-click-42' };
      const first = await reply(annaConversation, input);
      const second = await reply(annaConversation, input);
      assert.equal(second.reply.id, first.reply.id);
      await waitForStatus(first.reply.id, 'SENT');
      assert.equal(await count(env, 'message', 'idempotency_key = $1', ['agent-click-42']), 1);
      const rowId = Buffer.from(first.reply.id, 'base64').toString().split(':')[1] as string;
      assert.equal(testChannelRecorder.sends.filter((s) => s.message.id === rowId).length, 1);

      // A double click: two requests with one key at the same moment.
      const both = await Promise.all(
        [1, 2, 3].map(() => reply(annaConversation, { text: 'Double', idempotencyKey: 'dbl-1' })),
      );
      assert.equal(
        new Set(both.map((b) => b.__typename === 'ReplyToConversationPayload' && b.reply.id)).size,
        1,
      );
      assert.equal(await count(env, 'message', 'idempotency_key = $1', ['dbl-1']), 1);
    });

    test('a channel that fails twice, then succeeds: sent after three attempts', async () => {
      const answer = await reply(annaConversation, { text: '[fail:2] Retried until it works' });
      const sent = await waitForStatus(answer.reply.id, 'SENT', 20000);
      assert.equal(sent.attempts, 3);
      assert.equal(sent.error, null);
      const rowId = Buffer.from(answer.reply.id, 'base64').toString().split(':')[1] as string;
      assert.deepEqual(
        testChannelRecorder.sends.filter((s) => s.message.id === rowId).map((s) => s.outcome),
        ['failed', 'failed', 'sent'],
      );
    });

    test('a channel that always fails: failed with its error, and a message-failed event', async () => {
      const answer = await reply(annaConversation, { text: '[fail:always] Never arrives' });
      const failed = await waitForStatus(answer.reply.id, 'FAILED', 20000);
      assert.equal(failed.attempts, 3, 'the first attempt and two retries');
      assert.match(failed.error, /test provider is unavailable/);
      const rowId = Buffer.from(answer.reply.id, 'base64').toString().split(':')[1] as string;
      assert.equal(
        await count(
          env,
          'outbox_event',
          `type = 'conversation.message-failed' and payload->>'messageId' = $1`,
          [rowId],
        ),
        1,
      );
    });

    test('a provider refusal (an AtriumError from the channel) fails at once, without retries', async () => {
      const answer = await reply(annaConversation, { text: '[reject] Not for this provider' });
      const failed = await waitForStatus(answer.reply.id, 'FAILED');
      assert.equal(failed.attempts, 1);
      assert.match(failed.error, /refuses/);
    });

    test('a marketing send without consent is a typed CONSENT_REQUIRED error and writes nothing', async () => {
      const before = await count(env, 'message');
      const refused = await reply(annaConversation, { text: 'Spring sale!', purpose: 'MARKETING' });
      assert.deepEqual(refused, {
        __typename: 'ConsentRequiredError',
        code: 'CONSENT_REQUIRED',
        purpose: 'MARKETING_EMAIL',
        message: 'the profile has not granted consent for marketing_email',
      });
      assert.equal(await count(env, 'message'), before);

      const profileId = (await conversation(annaConversation)).profile.id;
      await agent.ok(
        `mutation ($id: ID!) { setConsent(input: { profileId: $id, purpose: MARKETING_EMAIL, granted: true, source: "web form", policyVersion: "v1" }) { __typename } }`,
        { id: profileId },
      );
      const accepted = await reply(annaConversation, { text: 'Spring sale!', purpose: 'MARKETING' });
      assert.equal(accepted.__typename, 'ReplyToConversationPayload');
      assert.ok(['QUEUED', 'SENDING', 'SENT'].includes(accepted.reply.status));
    });

    test('a channel that cannot carry marketing, and arguments the channel does not take, are refused', async () => {
      const benConversation = await conversationOfProviderId(env, 'in-ben-2');
      const noMarketing = await reply(benConversation, { text: 'Sale', purpose: 'MARKETING' });
      assert.equal(noMarketing.__typename, 'ValidationError');
      assert.equal(noMarketing.field, 'purpose');
      const badArgs = await reply(benConversation, { text: 'Hi', args: { subject: 'not on this channel' } });
      assert.equal(badArgs.__typename, 'ValidationError');
      assert.match(badArgs.field, /^args/);
      const attachment = await reply(benConversation, {
        text: 'A file',
        attachments: [{ name: 'a.pdf', contentType: 'application/pdf', size: 10 }],
      });
      assert.equal(attachment.__typename, 'ValidationError');
      assert.equal(attachment.field, 'attachments');
    });

    test('internal notes are stored, never sent', async () => {
      const data = await agent.ok(
        `mutation ($input: AddConversationNoteInput!) {
          addConversationNote(input: $input) { ... on AddConversationNotePayload { note { id internal status channel author } } }
        }`,
        { input: { conversationId: globalId('Conversation', annaConversation), text: 'VIP, be nice' } },
      );
      assert.deepEqual(
        { ...data.addConversationNote.note, id: undefined },
        { id: undefined, internal: true, status: 'SENT', channel: 'note', author: 'AGENT' },
      );
      const rowId = Buffer.from(data.addConversationNote.note.id, 'base64').toString().split(':')[1];
      assert.equal(testChannelRecorder.sends.filter((s) => s.message.id === rowId).length, 0);
    });
  });

  describe('working conversations', () => {
    test('inbox filters by status, assignee, channel, tag and text, newest message first', async () => {
      const annaConversation = await conversationOfProviderId(env, 'in-anna-1');
      const benConversation = await conversationOfProviderId(env, 'in-ben-1');
      await agent.ok(
        `mutation ($id: ID!) { tagConversation(input: { conversationId: $id, add: ["Billing"], priority: HIGH }) { __typename } }`,
        { id: globalId('Conversation', benConversation) },
      );
      const inbox = async (filter: Record<string, unknown>) =>
        (
          await agent.ok(
            `query ($filter: ConversationFilter) { inbox(first: 20, filter: $filter) { edges { node { id tags priority } } } }`,
            { filter },
          )
        ).inbox.edges.map(
          (e: { node: { id: string } }) => Buffer.from(e.node.id, 'base64').toString().split(':')[1],
        );
      const all = await inbox({});
      assert.ok(all.indexOf(annaConversation) >= 0 && all.indexOf(benConversation) >= 0);
      assert.deepEqual(await inbox({ tag: 'billing' }), [benConversation]);
      assert.deepEqual(await inbox({ channel: 'test2' }), [benConversation]);
      assert.deepEqual(await inbox({ priority: 'HIGH' }), [benConversation]);
      assert.deepEqual(await inbox({ search: 'where is my ORDER' }), [annaConversation]);
      assert.deepEqual(await inbox({ search: '100%_' }), []);
      assert.deepEqual(await inbox({ assignee: 'me' }), []);
      assert.ok((await inbox({ assignee: 'unassigned', statuses: ['OPEN'] })).includes(benConversation));
    });

    test('snooze, wake-up by the periodic job, resolve and reopen', async () => {
      const rowId = await conversationOfProviderId(env, 'in-ben-1');
      const id = globalId('Conversation', rowId);
      const past = await agent.ok(
        `mutation ($id: ID!) { snoozeConversation(input: { conversationId: $id, until: "2001-01-01T00:00:00Z" }) { __typename ... on ValidationError { field } } }`,
        { id },
      );
      assert.deepEqual(past.snoozeConversation, { __typename: 'ValidationError', field: 'snoozedUntil' });
      const until = new Date(Date.now() + 3_600_000).toISOString();
      const snoozed = await agent.ok(
        `mutation ($id: ID!, $until: DateTime!) { snoozeConversation(input: { conversationId: $id, until: $until }) { ... on SnoozeConversationPayload { conversation { status snoozedUntil } } } }`,
        { id, until },
      );
      assert.deepEqual(snoozed.snoozeConversation.conversation, { status: 'SNOOZED', snoozedUntil: until });

      // Time passes: the wake-up job (every 60 s) finds it due.
      await sql(
        env.em(),
        `update conversation set snoozed_until = now() - interval '1 second' where id = $1`,
        [rowId],
      );
      await env.atrium.jobs.send(WAKE_SNOOZED_JOB, {});
      await waitFor(
        async () => (await conversation(rowId)).status === 'OPEN',
        10000,
        'the snoozed conversation to reopen',
      );
      assert.equal((await conversation(rowId)).snoozedUntil, null);
      assert.equal(
        await count(env, 'outbox_event', `type = 'conversation.reopened' and subject = $1`, [rowId]),
        1,
      );

      const resolved = await agent.ok(
        `mutation ($id: ID!) { resolveConversation(input: { conversationId: $id }) { ... on ResolveConversationPayload { conversation { status resolvedAt } } } }`,
        { id },
      );
      assert.equal(resolved.resolveConversation.conversation.status, 'RESOLVED');
      assert.ok(resolved.resolveConversation.conversation.resolvedAt);
      const reopened = await agent.ok(
        `mutation ($id: ID!) { reopenConversation(input: { conversationId: $id }) { ... on ReopenConversationPayload { conversation { status resolvedAt } } } }`,
        { id },
      );
      assert.deepEqual(reopened.reopenConversation.conversation, { status: 'OPEN', resolvedAt: null });
    });

    test('after resolve, the next message starts a new conversation; merging joins them', async () => {
      await inbound(env, mail, {
        id: 'in-cleo-1',
        from: { email: 'cleo@example.com' },
        text: 'First question',
      });
      const first = await conversationOfProviderId(env, 'in-cleo-1');
      await agent.ok(
        `mutation ($id: ID!) { resolveConversation(input: { conversationId: $id }) { __typename } }`,
        {
          id: globalId('Conversation', first),
        },
      );
      await inbound(env, mail, {
        id: 'in-cleo-2',
        from: { email: 'cleo@example.com' },
        text: 'Second question',
      });
      const second = await conversationOfProviderId(env, 'in-cleo-2');
      assert.notEqual(second, first);
      const reopen = await agent.ok(
        `mutation ($id: ID!) { reopenConversation(input: { conversationId: $id }) { __typename ... on ValidationError { field message } } }`,
        { id: globalId('Conversation', first) },
      );
      assert.equal(
        reopen.reopenConversation.__typename,
        'ValidationError',
        'one live conversation per customer',
      );
      assert.match(reopen.reopenConversation.message, /merge this one into it/);

      const merged = await agent.ok(
        `mutation ($s: ID!, $m: ID!) {
          mergeConversations(input: { survivorId: $s, mergedId: $m }) {
            __typename
            ... on MergeConversationsPayload { conversation { id messages { edges { node { text } } } } mergedConversation { status mergedInto { id } } }
          }
        }`,
        { s: globalId('Conversation', second), m: globalId('Conversation', first) },
      );
      const payload = merged.mergeConversations;
      assert.equal(payload.__typename, 'MergeConversationsPayload');
      assert.deepEqual(
        payload.conversation.messages.edges.map((e: { node: { text: string } }) => e.node.text).sort(),
        ['First question', 'Second question'],
      );
      assert.deepEqual(payload.mergedConversation, {
        status: 'RESOLVED',
        mergedInto: { id: globalId('Conversation', second) },
      });
      const again = await agent.ok(
        `mutation ($s: ID!, $m: ID!) { mergeConversations(input: { survivorId: $s, mergedId: $m }) { __typename ... on ValidationError { field } } }`,
        { s: globalId('Conversation', second), m: globalId('Conversation', first) },
      );
      assert.deepEqual(again.mergeConversations, { __typename: 'ValidationError', field: 'mergedId' });
      assert.equal(
        await count(env, 'outbox_event', `type = 'conversation.merged' and subject = $1`, [second]),
        1,
      );
    });

    test('a profile merge (identify joins e-mail and phone) adopts the conversations and joins live ones', async () => {
      await inbound(env, mail, {
        id: 'in-dora-1',
        from: { email: 'dora@example.com' },
        text: 'Mail from Dora',
      });
      await inbound(env, sms, {
        id: 'in-dora-2',
        from: { phone: '+41 79 555 99 88' },
        text: 'Text from Dora',
      });
      const byMail = await conversationOfProviderId(env, 'in-dora-1');
      const byPhone = await conversationOfProviderId(env, 'in-dora-2');
      assert.notEqual(byMail, byPhone, 'two profiles, two conversations, until we learn they are one person');

      const key = await admin.ok(
        `mutation { createWriteKey(input: { name: "web" }) { ... on CreateWriteKeyPayload { key } } }`,
      );
      const identify = await fetch(`${env.url}/v1/identify`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${key.createWriteKey.key}:`).toString('base64')}`,
        },
        body: JSON.stringify({
          userId: 'dora-1',
          traits: { email: 'dora@example.com', phone: '+41 79 555 99 88' },
        }),
      });
      assert.equal(identify.status, 200);

      const rows = await waitFor(
        async () => {
          const found = await sql<{ id: string; profile_id: string; merged_into: string | null }>(
            env.em(),
            'select id, profile_id, merged_into from conversation where id = any($1::uuid[]) order by created_at',
            [[byMail, byPhone]],
          );
          return found.some((r) => r.merged_into) ? found : null;
        },
        15000,
        'the live conversations to be joined',
      );
      assert.equal(rows[0]?.profile_id, rows[1]?.profile_id, 'both belong to the surviving profile');
      const survivor = rows.find((r) => !r.merged_into)?.id as string;
      assert.equal(rows.find((r) => r.merged_into)?.merged_into, survivor);
      const thread = await conversation(survivor);
      assert.deepEqual(thread.channels.sort(), ['test', 'test2']);
      assert.equal(thread.messages.edges.length, 2);
    });
  });

  describe('live events over server-sent events', () => {
    test('an agent sees new messages, statuses and typing of a conversation as they happen', async () => {
      const rowId = await conversationOfProviderId(env, 'in-anna-1');
      const stream = await subscribe(
        `${env.url}/graphql`,
        env.token('agent'),
        `subscription ($id: ID!) { conversationEvents(conversationId: $id) { kind conversationId status author message { text direction } } }`,
        { id: globalId('Conversation', rowId) },
      );
      const inboxStream = await subscribe(
        `${env.url}/graphql`,
        env.token('agent'),
        'subscription { inboxEvents { kind conversationId message { text } } }',
      );
      try {
        assert.equal(stream.status, 200);
        assert.match(stream.contentType ?? '', /text\/event-stream/);
        await inbound(env, mail, {
          id: 'in-anna-live',
          from: { email: 'anna@example.com' },
          text: 'Are you there?',
        });
        const event = await stream.until(
          (d) => (d.conversationEvents as { kind: string }).kind === 'MESSAGE',
        );
        assert.deepEqual(event.conversationEvents, {
          kind: 'MESSAGE',
          conversationId: globalId('Conversation', rowId),
          status: 'RECEIVED',
          author: null,
          message: { text: 'Are you there?', direction: 'INBOUND' },
        });
        const seen = await inboxStream.until((d) => (d.inboxEvents as { kind: string }).kind === 'MESSAGE');
        assert.deepEqual(seen.inboxEvents, {
          kind: 'MESSAGE',
          conversationId: globalId('Conversation', rowId),
          message: { text: 'Are you there?' },
        });

        await agent.ok(
          `mutation ($id: ID!) { sendTypingIndicator(input: { conversationId: $id }) { __typename } }`,
          {
            id: globalId('Conversation', rowId),
          },
        );
        const typing = await stream.until(
          (d) => (d.conversationEvents as { kind: string }).kind === 'TYPING',
        );
        assert.equal((typing.conversationEvents as { author: string }).author, 'agent');

        await reply(rowId, { text: 'Yes!' });
        const sent = await stream.until((d) => {
          const e = d.conversationEvents as { kind: string; status: string };
          return e.kind === 'STATUS' && e.status === 'SENT';
        });
        assert.deepEqual((sent.conversationEvents as { message: unknown }).message, {
          text: 'Yes!',
          direction: 'OUTBOUND',
        });
      } finally {
        stream.close();
        inboxStream.close();
      }
    });
  });

  describe('workspaces and privacy', () => {
    test('another workspace cannot read, reply to or listen to these conversations', async () => {
      const rowId = await conversationOfProviderId(env, 'in-anna-1');
      const id = globalId('Conversation', rowId);
      const other = env.adminClient.withToken(env.token('agent', 'other'));
      assert.deepEqual((await other.ok('{ inbox { edges { node { id } } } }')).inbox.edges, []);
      assert.equal((await other.ok(CONVERSATION, { id })).conversation, null);
      assert.equal((await other.ok('query ($id: ID!) { node(id: $id) { id } }', { id })).node, null);
      const refused = await other.ok(REPLY, { input: { conversationId: id, text: 'Not yours' } });
      assert.equal(refused.replyToConversation.__typename, 'NotFoundError');
      const stream = await subscribe(
        `${env.url}/graphql`,
        env.token('agent', 'other'),
        'subscription ($id: ID!) { conversationEvents(conversationId: $id) { kind } }',
        { id },
      );
      try {
        const answer = await stream.next();
        assert.equal(answer.errors?.[0]?.extensions?.code, 'NOT_FOUND');
      } finally {
        stream.close();
      }
      const [inboxRow] = await sql<{ workspace_id: string }>(
        env.em(),
        'select workspace_id from conversation where id = $1',
        [rowId],
      );
      assert.equal(inboxRow?.workspace_id, demo.id);
    });

    test('the webhook of one workspace cannot reach another workspace', async () => {
      const otherAdmin = env.adminClient.withToken(env.token('admin', 'other'));
      const otherInbox = await createTestInbox(otherAdmin, 'test', 'Other mailbox');
      await inbound(env, otherInbox, {
        id: 'in-anna-other',
        from: { email: 'anna@example.com' },
        text: 'Other brand',
      });
      const otherConversation = await conversationOfProviderId(env, 'in-anna-other');
      assert.notEqual(otherConversation, await conversationOfProviderId(env, 'in-anna-1'));
      // Signed with another inbox's secret: refused.
      const crossed = await postWebhook(
        env,
        { ...otherInbox, secret: mail.secret },
        { messages: [{ id: 'x', from: { email: 'a@example.com' }, text: 'x' }] },
      );
      assert.equal(crossed.status, 401);
    });

    test('agents cannot configure inboxes; admins see channels with their arguments', async () => {
      const forbidden = await agent.query(
        'mutation { createChannelInbox(input: { channel: "test", name: "x" }) { __typename } }',
      );
      assert.equal(forbidden.errors?.[0]?.extensions?.code, 'FORBIDDEN');
      const unknown = await admin.ok(
        'mutation { createChannelInbox(input: { channel: "pigeon", name: "x" }) { __typename ... on ValidationError { field } } }',
      );
      assert.deepEqual(unknown.createChannelInbox, { __typename: 'ValidationError', field: 'channel' });
      const badSettings = await admin.ok(
        'mutation { createChannelInbox(input: { channel: "test", name: "x", settings: { colour: "red" } }) { __typename ... on ValidationError { field } } }',
      );
      assert.deepEqual(badSettings.createChannelInbox, {
        __typename: 'ValidationError',
        field: 'settings.colour',
      });
      const channels = await admin.ok(
        '{ channels { code addressType marketingConsent webhook capabilities { attachments } args { name type required } } }',
      );
      assert.deepEqual(channels.channels, [
        {
          code: 'test',
          addressType: 'email',
          marketingConsent: 'marketing_email',
          webhook: true,
          capabilities: { attachments: true },
          args: [{ name: 'subject', type: 'STRING', required: false }],
        },
        {
          code: 'test2',
          addressType: 'phone',
          marketingConsent: null,
          webhook: true,
          capabilities: { attachments: false },
          args: [],
        },
      ]);
      const inboxes = await admin.ok('{ channelInboxes { name channel enabled } }');
      assert.deepEqual(inboxes.channelInboxes, [
        { name: 'Support mailbox', channel: 'test', enabled: true },
        { name: 'Support number', channel: 'test2', enabled: true },
      ]);
      const disabled = await admin.ok(
        `mutation ($id: ID!) { updateChannelInbox(input: { id: $id, enabled: false }) { ... on UpdateChannelInboxPayload { channelInbox { enabled } } } }`,
        { id: sms.id },
      );
      assert.equal(disabled.updateChannelInbox.channelInbox.enabled, false);
      const refused = await postWebhook(env, sms, {
        messages: [{ id: 'late', from: { phone: '+41795550000' }, text: 'x' }],
      });
      assert.equal(refused.status, 404);
      await admin.ok(
        `mutation ($id: ID!) { updateChannelInbox(input: { id: $id, enabled: true }) { __typename } }`,
        {
          id: sms.id,
        },
      );
    });

    test('GDPR erasure removes the conversations and leaves no trace of the person', async () => {
      const email = 'erik.erase@example.com';
      const secret = 'Erik-secret-order-7731';
      await inbound(env, mail, { id: 'in-erik-1', from: { email }, text: `About ${secret}` });
      const rowId = await conversationOfProviderId(env, 'in-erik-1');
      const answer = await reply(rowId, { text: `Re: ${secret}` });
      await waitForStatus(answer.reply.id, 'SENT');
      const profileId = (await conversation(rowId)).profile.id;

      const exported = await admin.ok(
        `mutation ($id: ID!) { exportProfile(input: { profileId: $id }) { ... on ExportProfilePayload { document } } }`,
        { id: profileId },
      );
      const section = exported.exportProfile.document.modules.conversations;
      assert.equal(section.conversations.length, 1);
      assert.equal(section.conversations[0].messages.length, 2);

      const erased = await admin.ok(
        `mutation ($id: ID!) { eraseProfile(input: { profileId: $id, reason: "request" }) { __typename ... on EraseProfilePayload { erasure { removed } } } }`,
        { id: profileId },
      );
      assert.equal(erased.eraseProfile.__typename, 'EraseProfilePayload');
      assert.equal(erased.eraseProfile.erasure.removed.conversations, 1);
      assert.equal(await count(env, 'conversation', 'id = $1', [rowId]), 0);
      assert.equal(await count(env, 'message', 'conversation_id = $1', [rowId]), 0);
      // Handlers of the erasure's own events may still be running: let them finish first.
      await waitFor(
        async () => (await count(env, 'event_delivery', `status <> 'succeeded'`)) === 0,
        15000,
        'quiet',
      );
      const { tables, hits } = await sweepForPersonalData(env.databaseUrl, [email, secret]);
      assert.ok(tables.includes('public.message') && tables.includes('public.conversation'));
      assert.deepEqual(hits, []);
    });
  });
});
