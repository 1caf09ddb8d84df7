import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type InboxView, ValidationError, type WebhookRequest, WebhookSignatureError } from '@atrium/core';
import { parseInboxSettings, whatsappConfig } from './config.ts';
import {
  answerHandshake,
  parseNotification,
  SIGNATURE_HEADER,
  signatureOf,
  verifySignature,
} from './webhook.ts';

const config = whatsappConfig.parse({ accessToken: 'token-default', appSecret: 'secret-default' });
const inbox: InboxView = {
  id: '00000000-0000-4000-8000-000000000001',
  workspaceId: '00000000-0000-4000-8000-000000000002',
  address: '+15550783881',
  settings: { phoneNumberId: '106540352242922', verifyToken: 'verify-me-please' },
  secret: 'chs_unused',
};

function request(
  body: unknown,
  headers: Record<string, string> = {},
  query: Record<string, string> = {},
): WebhookRequest {
  const rawBody = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { method: 'POST', headers, query, rawBody };
}

function notification(value: Record<string, unknown>, phoneNumberId = '106540352242922') {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: phoneNumberId },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

const message = (extra: Record<string, unknown>) =>
  notification({
    contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: '41791234567' }],
    messages: [{ from: '41791234567', id: 'wamid.A', timestamp: '1749416383', ...extra }],
  });

describe('signature', () => {
  const body = JSON.stringify(message({ type: 'text', text: { body: 'hi' } }));

  test('a signature made with the app secret over the exact bytes passes', () => {
    verifySignature(
      config,
      request(body, { [SIGNATURE_HEADER]: signatureOf('secret-default', body) }),
      inbox,
    );
  });

  test('a wrong secret, changed bytes, a missing or malformed header are refused', () => {
    const cases: Record<string, string>[] = [
      { [SIGNATURE_HEADER]: signatureOf('another-secret', body) },
      { [SIGNATURE_HEADER]: signatureOf('secret-default', `${body} `) },
      {},
      { [SIGNATURE_HEADER]: 'sha1=abc' },
      { [SIGNATURE_HEADER]: `sha256=${'0'.repeat(63)}` },
    ];
    for (const headers of cases) {
      assert.throws(() => verifySignature(config, request(body, headers), inbox), WebhookSignatureError);
    }
  });

  test("a named account's app secret is used for its inboxes", () => {
    const multi = whatsappConfig.parse({
      accessToken: 'a',
      appSecret: 'default-secret',
      accounts: { eu: { accessToken: 'b', appSecret: 'eu-secret' } },
    });
    const euInbox = { ...inbox, settings: { ...inbox.settings, account: 'eu' } };
    verifySignature(multi, request(body, { [SIGNATURE_HEADER]: signatureOf('eu-secret', body) }), euInbox);
    assert.throws(
      () =>
        verifySignature(
          multi,
          request(body, { [SIGNATURE_HEADER]: signatureOf('default-secret', body) }),
          euInbox,
        ),
      WebhookSignatureError,
    );
  });
});

describe('handshake', () => {
  const query = (token: string, mode = 'subscribe') => ({
    'hub.mode': mode,
    'hub.verify_token': token,
    'hub.challenge': '1158201444',
  });

  test('the right verify token gets the challenge back', () => {
    assert.equal(answerHandshake(config, request('', {}, query('verify-me-please')), inbox), '1158201444');
  });

  test('a wrong token, another mode or no challenge is refused', () => {
    assert.equal(answerHandshake(config, request('', {}, query('verify-me-pleasE')), inbox), null);
    assert.equal(answerHandshake(config, request('', {}, query('')), inbox), null);
    assert.equal(
      answerHandshake(config, request('', {}, query('verify-me-please', 'unsubscribe')), inbox),
      null,
    );
    assert.equal(
      answerHandshake(
        config,
        request('', {}, { 'hub.mode': 'subscribe', 'hub.verify_token': 'verify-me-please' }),
        inbox,
      ),
      null,
    );
  });
});

describe('parse', () => {
  const parse = (body: unknown) => parseNotification(config, request(body), inbox);

  test('a text message: the sender as a phone identity, the contact name, the time, the quoted message', () => {
    const payload = parse(
      message({
        type: 'text',
        text: { body: 'Does it come in blue?' },
        context: { from: '15550783881', id: 'wamid.OURS' },
      }),
    );
    assert.deepEqual(payload.statuses, []);
    assert.deepEqual(payload.messages, [
      {
        providerMessageId: 'wamid.A',
        from: { identities: [{ type: 'phone', value: '+41791234567' }], name: 'Sheena Nelson' },
        text: 'Does it come in blue?',
        inReplyTo: ['wamid.OURS'],
        receivedAt: new Date(1749416383 * 1000),
      },
    ]);
  });

  test('media become attachment metadata and a part with the media id; the caption is the text', () => {
    const [image] = parse(
      message({
        type: 'image',
        image: { caption: 'the scratch', mime_type: 'image/jpeg', sha256: 'abc', id: '1479537139650973' },
      }),
    ).messages;
    assert.equal(image?.text, 'the scratch');
    assert.deepEqual(image?.attachments, [
      { name: 'image-1479537139650973', contentType: 'image/jpeg', size: 0 },
    ]);
    assert.deepEqual(image?.parts, [
      {
        type: 'whatsapp_media',
        mediaType: 'image',
        mediaId: '1479537139650973',
        mimeType: 'image/jpeg',
        caption: 'the scratch',
        sha256: 'abc',
      },
    ]);

    const [doc] = parse(
      message({
        type: 'document',
        document: { filename: 'invoice.pdf', mime_type: 'application/pdf', id: '42' },
      }),
    ).messages;
    assert.equal(doc?.text, null);
    assert.deepEqual(doc?.attachments, [{ name: 'invoice.pdf', contentType: 'application/pdf', size: 0 }]);

    const [voice] = parse(
      message({ type: 'audio', audio: { mime_type: 'audio/ogg; codecs=opus', id: '7', voice: true } }),
    ).messages;
    assert.equal(voice?.attachments?.[0]?.contentType, 'audio/ogg; codecs=opus');
    assert.equal(voice?.parts?.[0]?.voice, true);
  });

  test('button and list replies, and template quick replies, arrive as text', () => {
    const [button] = parse(
      message({
        type: 'interactive',
        interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes, please' } },
      }),
    ).messages;
    assert.equal(button?.text, 'Yes, please');
    assert.deepEqual(button?.parts, [
      { type: 'reply', kind: 'button_reply', id: 'yes', title: 'Yes, please', description: null },
    ]);

    const [row] = parse(
      message({
        type: 'interactive',
        interactive: {
          type: 'list_reply',
          list_reply: { id: 'r2', title: 'Tuesday', description: 'after 2 pm' },
        },
      }),
    ).messages;
    assert.equal(row?.text, 'Tuesday');

    const [quick] = parse(
      message({ type: 'button', button: { payload: 'STOP', text: 'Stop promotions' } }),
    ).messages;
    assert.equal(quick?.text, 'Stop promotions');
    assert.equal(quick?.parts?.[0]?.payload, 'STOP');
  });

  test('reactions answer the message they react to; unknown types are kept as a marker', () => {
    const [reaction] = parse(
      message({ type: 'reaction', reaction: { message_id: 'wamid.OURS', emoji: '👍' } }),
    ).messages;
    assert.equal(reaction?.text, '👍');
    assert.deepEqual(reaction?.inReplyTo, ['wamid.OURS']);

    const [order] = parse(message({ type: 'order', order: { catalog_id: '1' } })).messages;
    assert.equal(order?.text, null);
    assert.deepEqual(order?.parts, [{ type: 'unsupported', whatsappType: 'order' }]);
  });

  test('statuses: sent, delivered, read, and failed with a clear reason; others are skipped', () => {
    const payload = parse(
      notification({
        statuses: [
          { id: 'wamid.1', status: 'sent', timestamp: '1750857384', recipient_id: '41791234567' },
          { id: 'wamid.1', status: 'delivered', timestamp: '1750857385', recipient_id: '41791234567' },
          { id: 'wamid.1', status: 'read', timestamp: '1750857386', recipient_id: '41791234567' },
          { id: 'wamid.1', status: 'deleted', timestamp: '1750857387', recipient_id: '41791234567' },
          {
            id: 'wamid.2',
            status: 'failed',
            timestamp: '1750857388',
            recipient_id: '41791234567',
            errors: [
              { code: 131047, title: 'Re-engagement message', error_data: { details: 'more than 24 hours' } },
            ],
          },
          {
            id: 'wamid.3',
            status: 'failed',
            timestamp: '1750857389',
            recipient_id: '41791234567',
            errors: [
              {
                code: 131049,
                title: 'This message was not delivered to maintain healthy ecosystem engagement.',
              },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(
      payload.statuses.map((s) => [s.providerMessageId, s.status, s.at?.getTime()]),
      [
        ['wamid.1', 'sent', 1750857384000],
        ['wamid.1', 'delivered', 1750857385000],
        ['wamid.1', 'read', 1750857386000],
        ['wamid.2', 'failed', 1750857388000],
        ['wamid.3', 'failed', 1750857389000],
      ],
    );
    assert.match(payload.statuses[3]?.error ?? '', /24-hour customer service window.*Meta error 131047/);
    assert.match(payload.statuses[4]?.error ?? '', /healthy ecosystem engagement.*Meta error 131049/);
  });

  test("changes for another phone number id, or other fields, are not this inbox's", () => {
    const other = notification(
      {
        contacts: [],
        messages: [{ from: '41791234567', id: 'wamid.X', type: 'text', text: { body: 'hi' } }],
      },
      '999999999',
    );
    assert.deepEqual(parse(other), { messages: [], statuses: [] });
    const templates = {
      object: 'whatsapp_business_account',
      entry: [
        { id: '1', changes: [{ field: 'message_template_status_update', value: { event: 'APPROVED' } }] },
      ],
    };
    assert.deepEqual(parse(templates), { messages: [], statuses: [] });
  });

  test('bad JSON or a body without entries is a ValidationError', () => {
    assert.throws(() => parse('{not json'), ValidationError);
    assert.throws(() => parse({ object: 'whatsapp_business_account' }), ValidationError);
    assert.throws(
      () => parse(message({ from: '+41 79', type: 'text', text: { body: 'x' } })),
      ValidationError,
    );
  });
});

describe('inbox settings', () => {
  test('phoneNumberId and verifyToken are required; unknown keys are named', () => {
    assert.deepEqual(
      parseInboxSettings(config, { phoneNumberId: '106540352242922', verifyToken: 'verify-me-please' }),
      {
        phoneNumberId: '106540352242922',
        verifyToken: 'verify-me-please',
      },
    );
    assert.throws(
      () => parseInboxSettings(config, { verifyToken: 'verify-me-please' }),
      (e: ValidationError) => e.field === 'settings.phoneNumberId',
    );
    assert.throws(
      () => parseInboxSettings(config, { phoneNumberId: '+41 79 123', verifyToken: 'verify-me-please' }),
      (e: ValidationError) => e.field === 'settings.phoneNumberId',
    );
    assert.throws(
      () => parseInboxSettings(config, { phoneNumberId: '1', verifyToken: 'short' }),
      (e: ValidationError) => e.field === 'settings.verifyToken',
    );
    assert.throws(
      () =>
        parseInboxSettings(config, { phoneNumberId: '1', verifyToken: 'verify-me-please', colour: 'green' }),
      /unknown setting colour/,
    );
  });

  test('secrets are refused with where they belong; an account must exist', () => {
    assert.throws(
      () =>
        parseInboxSettings(config, {
          phoneNumberId: '1',
          verifyToken: 'verify-me-please',
          accessToken: 'EAAG…',
        }),
      (e: ValidationError) => e.field === 'settings.accessToken' && /from the environment/.test(e.message),
    );
    assert.throws(
      () =>
        parseInboxSettings(config, { phoneNumberId: '1', verifyToken: 'verify-me-please', account: 'eu' }),
      /no WhatsApp account "eu" is configured \(accounts: none\)/,
    );
  });
});

describe('plugin options', () => {
  test('defaults, and a clear word when credentials are missing or half given', () => {
    assert.equal(config.graphApiUrl, 'https://graph.facebook.com');
    assert.equal(config.apiVersion, 'v23.0');
    assert.equal(
      whatsappConfig.parse({ accessToken: 'a', appSecret: 'b', graphApiUrl: 'http://127.0.0.1:9/' })
        .graphApiUrl,
      'http://127.0.0.1:9',
    );
    const issue = (options: unknown) => whatsappConfig.safeParse(options).error?.issues[0];
    assert.deepEqual(issue({})?.path, ['accessToken']);
    assert.deepEqual(issue({ accessToken: 'a' })?.path, ['appSecret']);
    assert.deepEqual(issue({ accessToken: 'a', appSecret: 'b', apiVersion: '23' })?.path, ['apiVersion']);
    assert.equal(issue({ accounts: { eu: { accessToken: 'a', appSecret: 'b' } } }), undefined);
  });
});
