import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AtriumError, type OutboundMessage, ValidationError } from '@atrium/core';
import { sendToCloudApi, type WhatsAppSendArgs } from './cloud-api.ts';
import { type WhatsAppConfig, whatsappConfig } from './config.ts';
import { WhatsAppRefusedError } from './meta-errors.ts';
import { type CloudApiPeer, startCloudApiPeer } from './testing/cloud-api-peer.ts';

// The adapter's send against the Cloud API stand-in (see testing/cloud-api-peer.ts), no database.
const PHONE_NUMBER_ID = '106540352242922';
let peer: CloudApiPeer;
let config: WhatsAppConfig;

before(async () => {
  peer = await startCloudApiPeer({
    accessToken: 'EAAG-test-token',
    appSecret: 'app-secret',
    phoneNumberId: PHONE_NUMBER_ID,
    templates: { order_update: ['en_US'] },
  });
  config = whatsappConfig.parse({
    graphApiUrl: peer.url,
    apiVersion: 'v23.0',
    timeoutMs: 500,
    accessToken: 'EAAG-test-token',
    appSecret: 'app-secret',
  });
  peer.lastInboundAt.set('41791234567', Date.now());
});
after(() => peer?.close());

function outbound(
  overrides: Partial<OutboundMessage<WhatsAppSendArgs>> = {},
): OutboundMessage<WhatsAppSendArgs> {
  return {
    id: '00000000-0000-4000-8000-00000000000a',
    idempotencyKey: '00000000-0000-4000-8000-00000000000a',
    conversationId: '00000000-0000-4000-8000-00000000000b',
    profileId: '00000000-0000-4000-8000-00000000000c',
    to: '+41791234567',
    text: 'Your parcel left the warehouse.',
    parts: [],
    attachments: [],
    args: { previewUrl: false },
    thread: [],
    inbox: {
      id: '00000000-0000-4000-8000-00000000000d',
      workspaceId: '00000000-0000-4000-8000-00000000000e',
      address: null,
      settings: { phoneNumberId: PHONE_NUMBER_ID, verifyToken: 'verify-me-please' },
      secret: 'chs_unused',
    },
    ...overrides,
  };
}

const signal = new AbortController().signal;

describe('sending', () => {
  test('a text goes to /{version}/{phone number id}/messages with the token; the wamid comes back', async () => {
    const result = await sendToCloudApi(config, outbound({ args: { previewUrl: true } }), signal);
    const request = peer.sends.at(-1);
    assert.equal(request?.path, `/v23.0/${PHONE_NUMBER_ID}/messages`);
    assert.equal(request?.headers.authorization, 'Bearer EAAG-test-token');
    assert.deepEqual(request?.body, {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '41791234567',
      biz_opaque_callback_data: '00000000-0000-4000-8000-00000000000a',
      type: 'text',
      text: { body: 'Your parcel left the warehouse.', preview_url: true },
    });
    assert.equal(result.providerMessageId, request?.wamid);
    assert.match(result.providerMessageId, /^wamid\./);
  });

  test('a template part is sent as a template, with its language and components', async () => {
    const components = [{ type: 'body', parameters: [{ type: 'text', text: 'A-1042' }] }];
    const result = await sendToCloudApi(
      config,
      outbound({
        text: null,
        parts: [{ type: 'template', name: 'order_update', language: 'en-US', components }],
      }),
      signal,
    );
    assert.deepEqual(peer.sends.at(-1)?.body?.template, {
      name: 'order_update',
      language: { code: 'en_US', policy: 'deterministic' },
      components,
    });
    assert.equal(result.providerMessageId, peer.sends.at(-1)?.wamid);
  });

  test('what WhatsApp cannot carry is refused before anything is sent', async () => {
    const before = peer.sends.length;
    const refusals: [Partial<OutboundMessage<WhatsAppSendArgs>>, RegExp][] = [
      [{ text: 'x'.repeat(4097) }, /at most 4096 characters/],
      [{ text: null }, /needs text or a template part/],
      [{ to: null }, /no phone number/],
      [{ parts: [{ type: 'template', name: 'Order Update', language: 'en' }] }, /approved template/],
      [{ parts: [{ type: 'template', name: 'order_update' }] }, /language code/],
      [
        {
          parts: [
            { type: 'template', name: 'a', language: 'en' },
            { type: 'template', name: 'b', language: 'en' },
          ],
        },
        /one template/,
      ],
    ];
    for (const [overrides, message] of refusals) {
      await assert.rejects(sendToCloudApi(config, outbound(overrides), signal), (e: Error) => {
        assert.ok(e instanceof ValidationError, e.message);
        assert.match(e.message, message);
        return true;
      });
    }
    assert.equal(peer.sends.length, before);
  });
});

describe("Meta's answers", () => {
  const permanent = async (expected: RegExp) =>
    assert.rejects(sendToCloudApi(config, outbound(), signal), (e: Error) => {
      assert.ok(e instanceof WhatsAppRefusedError, `${e.name}: ${e.message}`);
      assert.ok(e instanceof AtriumError);
      assert.match(e.message, expected);
      return true;
    });
  const transient = async (expected: RegExp) =>
    assert.rejects(sendToCloudApi(config, outbound(), signal), (e: Error) => {
      assert.ok(!(e instanceof AtriumError), `expected a retryable error, got ${e.name}: ${e.message}`);
      assert.match(e.message, expected);
      return true;
    });
  const metaError = (code: number, message: string, details?: string) => ({
    error: {
      message,
      type: 'OAuthException',
      code,
      ...(details ? { error_data: { details } } : {}),
      fbtrace_id: 'x',
    },
  });

  test('a missing template is final and says so', async () => {
    await assert.rejects(
      sendToCloudApi(
        config,
        outbound({ parts: [{ type: 'template', name: 'no_such_template', language: 'en_US' }] }),
        signal,
      ),
      (e: Error) =>
        e instanceof WhatsAppRefusedError &&
        e.metaCode === 132001 &&
        /no approved template.*template name \(no_such_template\) does not exist in en_US/.test(e.message),
    );
  });

  test('a refused token, an invalid parameter and a closed 24-hour window are final', async () => {
    const withBadToken = whatsappConfig.parse({ ...config, accessToken: 'expired', appSecret: 'app-secret' });
    await assert.rejects(
      sendToCloudApi(withBadToken, outbound(), signal),
      /refused the access token.*Meta error 190, HTTP 401/,
    );
    peer.answerNext({
      status: 400,
      body: metaError(100, '(#100) Invalid parameter', 'Parameter to is invalid'),
    });
    await permanent(
      /WhatsApp refused the message: \(#100\) Invalid parameter: Parameter to is invalid \(Meta error 100, HTTP 400\)/,
    );
    peer.answerNext({ status: 400, body: metaError(131047, 'Re-engagement message') });
    await permanent(/outside WhatsApp's 24-hour customer service window.*approved template.*131047/);
  });

  test('throttling, outages and silence are retried (a plain Error)', async () => {
    peer.answerNext({ status: 429, body: metaError(130429, 'Rate limit hit') });
    await transient(/unavailable for now.*130429, HTTP 429/);
    peer.answerNext({
      status: 400,
      body: metaError(131056, '(Business Account, Consumer Account) pair rate limit hit'),
    });
    await transient(/pair rate limit/);
    peer.answerNext({ status: 500, body: metaError(131000, 'Something went wrong') });
    await transient(/HTTP 500/);
    peer.answerNext({ status: 503, body: 'not json' });
    await transient(/without a code, HTTP 503/);
    peer.answerNext({ status: 200, body: { messaging_product: 'whatsapp', messages: [] } });
    await transient(/without a message id/);
  });

  test('a peer that never answers or refuses the connection is retried', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const slow = whatsappConfig.parse({
        ...config,
        graphApiUrl: `http://127.0.0.1:${port}`,
        timeoutMs: 200,
      });
      await assert.rejects(sendToCloudApi(slow, outbound(), signal), (e: Error) => {
        assert.ok(!(e instanceof AtriumError));
        assert.match(e.message, /could not be reached: no answer within 200 ms/);
        return true;
      });
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
    const closed = whatsappConfig.parse({ ...config, graphApiUrl: `http://127.0.0.1:${port}` });
    await assert.rejects(
      sendToCloudApi(closed, outbound(), signal),
      (e: Error) => !(e instanceof AtriumError),
    );
  });
});
