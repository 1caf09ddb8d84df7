import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AtriumError } from '@atrium/core';
import { createTestEnvironment, type TestEnvironment, waitFor } from '@atrium/core/testing';
import { signatureOf, whatsappPlugin } from './index.ts';
import { type CloudApiPeer, startCloudApiPeer } from './testing/cloud-api-peer.ts';
import { createWhatsAppInbox, grantConsent, send } from './testing/conversations.ts';

// The whole path through the real server and database, with a local stand-in for Meta's servers
// (testing/cloud-api-peer.ts): it takes the adapter's sends and posts signed webhooks back.
const PHONE_NUMBER_ID = '106540352242922';
const VERIFY_TOKEN = 'verify-token-of-this-inbox';
const APP_SECRET = 'app-secret-of-the-meta-app';
const ANNA = '41791234567';
const BEN = '4915112345678';

let env: TestEnvironment;
let peer: CloudApiPeer;
let workspaceId: string;
let webhookUrl: string;

interface MessageRow {
  id: string;
  conversation_id: string;
  direction: string;
  status: string;
  text: string | null;
  provider_message_id: string | null;
  attempts: number;
  error: string | null;
  in_reply_to: string[];
}

const rows = <T>(sql: string, params: unknown[] = []) => env.em().getConnection().execute<T[]>(sql, params);
const messageById = async (id: string) =>
  (await rows<MessageRow>('select * from message where id = ?', [id]))[0];
const messagesByProvider = (wamid: string) =>
  rows<MessageRow>('select * from message where provider_message_id = ?', [wamid]);
const counts = async () =>
  (
    await rows<Record<string, string>>(
      `select (select count(*) from message) as message, (select count(*) from conversation) as conversation,
              (select count(*) from profile) as profile, (select count(*) from outbox_event) as outbox_event`,
    )
  )[0];

async function profileOf(phone: string): Promise<string> {
  const [row] = await rows<{ profile_id: string }>(
    `select profile_id from identity where type = 'phone' and value = ?`,
    [`+${phone}`],
  );
  assert.ok(row, `a profile with the phone +${phone}`);
  return row.profile_id;
}

async function conversationOf(phone: string): Promise<string> {
  const [row] = await rows<{ id: string }>(
    `select id from conversation where profile_id = ? and status <> 'resolved'`,
    [await profileOf(phone)],
  );
  assert.ok(row);
  return row.id;
}

async function settled(id: string, status: string, timeoutMs = 15_000): Promise<MessageRow> {
  await waitFor(async () => (await messageById(id))?.status === status, timeoutMs, `message ${id} ${status}`);
  return (await messageById(id)) as MessageRow;
}

before(async () => {
  peer = await startCloudApiPeer({
    accessToken: 'EAAG-test-token',
    appSecret: APP_SECRET,
    phoneNumberId: PHONE_NUMBER_ID,
    templates: { order_update: ['en_US'], spring_sale: ['en_US'] },
  });
  env = await createTestEnvironment({
    plugins: [
      whatsappPlugin({
        graphApiUrl: peer.url,
        apiVersion: 'v23.0',
        timeoutMs: 2000,
        accessToken: 'EAAG-test-token',
        appSecret: APP_SECRET,
      }),
    ],
    settings: { CONVERSATION_DELIVERY_RETRY_DELAY_S: '1' },
  });
  workspaceId = (await env.workspace('demo')).id;
  const { inbox } = await createWhatsAppInbox(env, workspaceId, {
    phoneNumberId: PHONE_NUMBER_ID,
    verifyToken: VERIFY_TOKEN,
  });
  webhookUrl = `${env.url}/channels/${inbox.id}/webhook`;
});
after(async () => {
  await env?.destroy();
  await peer?.close();
});

describe('the webhook', () => {
  test("Meta's subscription handshake: the inbox's verify token gets the challenge, another gets 403", async () => {
    assert.deepEqual(await peer.subscribe(webhookUrl, 'not-the-token'), { ok: false, status: 403 });
    assert.deepEqual(await peer.subscribe(webhookUrl, VERIFY_TOKEN), { ok: true, status: 200 });
  });

  test('a signed text message becomes a conversation of a profile with that phone number', async () => {
    const wamid = 'wamid.ANNA-FIRST';
    const notification = peer.inbound({
      from: ANNA,
      id: wamid,
      name: 'Anna Muster',
      text: 'Where is my parcel?',
    });
    const answer = await peer.post(notification);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, { received: 1, statuses: 0 });

    const [message] = await messagesByProvider(wamid);
    assert.equal(message?.direction, 'inbound');
    assert.equal(message?.status, 'received');
    assert.equal(message?.text, 'Where is my parcel?');
    assert.equal(message?.conversation_id, await conversationOf(ANNA));
  });

  test('a bad or missing signature is 401 and stores nothing', async () => {
    const before = await counts();
    const notification = peer.inbound({ from: '41798765432', text: 'forged' });
    const forged = await peer.post(notification, { signature: `sha256=${'ab'.repeat(32)}` });
    assert.equal(forged.status, 401);
    assert.equal((forged.body as { error: { code: string } }).error.code, 'WEBHOOK_SIGNATURE_INVALID');
    assert.equal((await peer.post(notification, { signature: null })).status, 401);
    // Signed right, but over other bytes than those sent.
    const tampered = JSON.stringify(notification).replace('forged', 'FORGED');
    const signature = signatureOf(APP_SECRET, JSON.stringify(notification));
    assert.equal((await peer.post(null, { raw: tampered, signature })).status, 401);
    assert.deepEqual(await counts(), before);
  });

  test('the same wamid twice is one message', async () => {
    const notification = peer.inbound({ from: ANNA, id: 'wamid.SAME-ONE', text: 'Hello again' });
    assert.equal((await peer.post(notification)).status, 200);
    assert.equal((await peer.post(notification)).status, 200);
    assert.equal((await messagesByProvider('wamid.SAME-ONE')).length, 1);
  });

  test("another number's notifications are ignored; bad JSON with a good signature is 400", async () => {
    const before = await counts();
    const other = await peer.post(
      peer.inbound({ from: ANNA, text: 'to another number', phoneNumberId: '555000111' }),
    );
    assert.deepEqual(other.body, { received: 0, statuses: 0 });
    const bad = await peer.post(null, { raw: '{"entry": [' });
    assert.equal(bad.status, 400);
    assert.deepEqual(await counts(), before);
  });
});

describe('sending', () => {
  test('a text reply reaches Meta in the Cloud API format and ends sent with the wamid', async () => {
    const { message } = await send(env, {
      workspaceId,
      conversationId: await conversationOf(ANNA),
      text: 'It arrives tomorrow.',
    });
    const sent = await settled(message.id, 'sent');
    const request = peer.sends.find((s) => s.wamid === sent.provider_message_id);
    assert.ok(request, 'the stand-in took the send and answered with this wamid');
    assert.equal(request.headers.authorization, 'Bearer EAAG-test-token');
    assert.deepEqual(request.body, {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: ANNA,
      biz_opaque_callback_data: message.id,
      type: 'text',
      text: { body: 'It arrives tomorrow.', preview_url: false },
    });
    assert.equal(sent.attempts, 1);
  });

  test('status callbacks move it to delivered, then read; a late "sent" does not move it back', async () => {
    const { message } = await send(env, {
      workspaceId,
      conversationId: await conversationOf(ANNA),
      text: 'Anything else?',
    });
    const wamid = (await settled(message.id, 'sent')).provider_message_id as string;
    assert.equal((await peer.post(peer.status(wamid, 'delivered'))).status, 200);
    assert.equal((await messageById(message.id))?.status, 'delivered');
    assert.deepEqual((await peer.post(peer.status(wamid, 'read'))).body, { received: 0, statuses: 1 });
    assert.equal((await messageById(message.id))?.status, 'read');
    await peer.post(peer.status(wamid, 'sent'));
    assert.equal((await messageById(message.id))?.status, 'read');
  });

  test('a template part is sent as a template and ends sent', async () => {
    const components = [{ type: 'body', parameters: [{ type: 'text', text: 'A-1042' }] }];
    const { message } = await send(env, {
      workspaceId,
      conversationId: await conversationOf(ANNA),
      purpose: 'transactional',
      parts: [{ type: 'template', name: 'order_update', language: 'en_US', components }],
    });
    const sent = await settled(message.id, 'sent');
    const request = peer.sends.find((s) => s.wamid === sent.provider_message_id);
    assert.equal(request?.body?.type, 'template');
    assert.deepEqual(request?.body?.template, {
      name: 'order_update',
      language: { code: 'en_US', policy: 'deterministic' },
      components,
    });
  });

  test('a template Meta does not have fails at once, without retries, and says why', async () => {
    const { message } = await send(env, {
      workspaceId,
      conversationId: await conversationOf(ANNA),
      parts: [{ type: 'template', name: 'no_such_template', language: 'en_US' }],
    });
    const failed = await settled(message.id, 'failed');
    assert.match(failed.error ?? '', /no approved template.*no_such_template.*Meta error 132001/);
    assert.equal(failed.attempts, 1);
    // Longer than the retry delay (1 s): a retry would have shown by now.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const after = await messageById(message.id);
    assert.equal(after?.attempts, 1);
    assert.equal(peer.sends.filter((s) => s.body?.template?.name === 'no_such_template').length, 1);
  });

  test('a 500 from Meta is retried, and the retry ends sent', async () => {
    peer.answerNext({ status: 500, body: { error: { message: 'Something went wrong', code: 131000 } } });
    const { message } = await send(env, {
      workspaceId,
      conversationId: await conversationOf(ANNA),
      text: 'Sorry for the wait.',
    });
    const sent = await settled(message.id, 'sent', 30_000);
    assert.equal(sent.attempts, 2);
    const tries = peer.sends.filter((s) => s.body?.text?.body === 'Sorry for the wait.');
    assert.deepEqual(
      tries.map((s) => s.status),
      [500, 200],
    );
  });

  test('a marketing template needs marketing_sms consent: without it, CONSENT_REQUIRED and nothing is sent', async () => {
    const profileId = await profileOf(ANNA);
    const conversationId = await conversationOf(ANNA);
    const before = { rows: await counts(), sends: peer.sends.length };
    const marketing = {
      workspaceId,
      conversationId,
      purpose: 'marketing' as const,
      parts: [{ type: 'template', name: 'spring_sale', language: 'en_US' }],
    };
    await assert.rejects(send(env, marketing), (e: Error) => {
      assert.ok(e instanceof AtriumError);
      assert.equal(e.code, 'CONSENT_REQUIRED');
      assert.match(e.message, /marketing_sms/);
      return true;
    });
    assert.deepEqual(await counts(), before.rows);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(peer.sends.length, before.sends);

    await grantConsent(env, workspaceId, profileId, 'marketing_sms');
    const { message } = await send(env, marketing);
    await settled(message.id, 'sent');
  });

  test("a free-form message outside the 24-hour window: Meta's refusal arrives as a failed status and says so", async () => {
    // Ben last wrote two days ago.
    const twoDaysAgo = Math.floor(Date.now() / 1000) - 2 * 24 * 3600;
    assert.equal(
      (await peer.post(peer.inbound({ from: BEN, text: 'Is the shop open?', timestamp: twoDaysAgo }))).status,
      200,
    );
    const { message } = await send(env, {
      workspaceId,
      conversationId: await conversationOf(BEN),
      text: 'Yes, until 6.',
    });
    await settled(message.id, 'sent');
    const [status] = await peer.flushStatuses();
    assert.equal(status?.status, 200);
    const failed = await messageById(message.id);
    assert.equal(failed?.status, 'failed');
    assert.match(
      failed?.error ?? '',
      /outside WhatsApp's 24-hour customer service window.*approved template.*131047/,
    );

    // A template still reaches him.
    const template = await send(env, {
      workspaceId,
      conversationId: await conversationOf(BEN),
      purpose: 'transactional',
      parts: [{ type: 'template', name: 'order_update', language: 'en_US' }],
    });
    await settled(template.message.id, 'sent');
    assert.equal(peer.pendingStatuses.length, 0);
  });

  test("a customer's reply to our message joins the same conversation", async () => {
    const conversationId = await conversationOf(ANNA);
    const { message } = await send(env, { workspaceId, conversationId, text: 'Shall we send it again?' });
    const wamid = (await settled(message.id, 'sent')).provider_message_id as string;
    const reply = peer.inbound({ from: ANNA, id: 'wamid.REPLY', text: 'Yes please', context: { id: wamid } });
    assert.equal((await peer.post(reply)).status, 200);
    const [stored] = await messagesByProvider('wamid.REPLY');
    assert.equal(stored?.conversation_id, conversationId);
    assert.deepEqual(stored?.in_reply_to, [wamid]);
  });
});

test('missing credentials stop the boot with one clear line', async () => {
  await assert.rejects(
    createTestEnvironment({ plugins: [whatsappPlugin({ graphApiUrl: 'http://127.0.0.1:9' })] }),
    /Plugin "channel-whatsapp": is misconfigured: accessToken: is required: pass accessToken and appSecret/,
  );
});
