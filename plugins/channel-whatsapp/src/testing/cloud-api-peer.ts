import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signatureOf } from '../webhook.ts';

/**
 * A stand-in for Meta's servers in tests (there is no Meta sandbox here): a real HTTP peer on
 * 127.0.0.1 that speaks the Cloud API format. It takes sends at
 * `/{version}/{phoneNumberId}/messages` (Bearer token and body checked, answers like Meta,
 * errors when scripted or when a template is unknown), keeps the 24-hour window per customer,
 * and posts signed notifications to the webhook it was subscribed to, as Meta does.
 */
export interface CloudApiPeerOptions {
  accessToken: string;
  appSecret: string;
  phoneNumberId: string;
  displayPhoneNumber?: string;
  /** Approved templates: name → language codes. */
  templates?: Record<string, string[]>;
}

/** A send's body as the stand-in reads it: whatever the adapter posted. */
export interface SendBody {
  messaging_product?: unknown;
  recipient_type?: unknown;
  to?: unknown;
  type?: unknown;
  biz_opaque_callback_data?: unknown;
  text?: { body?: unknown; preview_url?: unknown };
  template?: { name?: unknown; language?: { code?: unknown; policy?: unknown }; components?: unknown };
}

export interface ReceivedSend {
  path: string;
  headers: IncomingHttpHeaders;
  /** Null when the request was refused before its body was read. */
  body: SendBody | null;
  /** What the peer answered. */
  status: number;
  wamid: string | null;
}

export interface ScriptedAnswer {
  status: number;
  body?: unknown;
}

export interface InboundSpec {
  from: string;
  name?: string;
  id?: string;
  /** Unix seconds; defaults to now. Also moves the customer's 24-hour window. */
  timestamp?: number;
  /** The Cloud API's message object beyond from/id/timestamp, e.g. `{ type: 'text', text: { body } }`. */
  message?: Record<string, unknown>;
  text?: string;
  context?: { id: string };
  phoneNumberId?: string;
}

export type CloudApiPeer = Awaited<ReturnType<typeof startCloudApiPeer>>;

const DAY_MS = 24 * 60 * 60 * 1000;

export async function startCloudApiPeer(options: CloudApiPeerOptions) {
  const sends: ReceivedSend[] = [];
  const script: ScriptedAnswer[] = [];
  /** Status notifications Meta would post later (e.g. a 24-hour window refusal). */
  const pendingStatuses: Record<string, unknown>[] = [];
  const lastInboundAt = new Map<string, number>();
  const templates = options.templates ?? {};
  let webhookUrl: string | null = null;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const answer = (
        status: number,
        body: unknown,
        wamid: string | null = null,
        parsed: SendBody | null = null,
      ) => {
        sends.push({ path: req.url ?? '', headers: req.headers, body: parsed, status, wamid });
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      const match = /^\/(v\d+\.\d+)\/(\d+)\/messages$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !match) return answer(400, metaError(100, 'Unsupported post request'));
      if (req.headers.authorization !== `Bearer ${options.accessToken}`) {
        return answer(401, metaError(190, 'Invalid OAuth access token - Cannot parse access token'));
      }
      if (match[2] !== options.phoneNumberId) return answer(400, metaError(100, 'Unsupported post request'));
      if (!req.headers['content-type']?.startsWith('application/json')) {
        return answer(400, metaError(100, 'Invalid parameter', 'the body must be JSON'));
      }
      let body: SendBody;
      try {
        body = JSON.parse(raw);
      } catch {
        return answer(400, metaError(100, 'Invalid parameter', 'the body is not JSON'));
      }
      const scripted = script.shift();
      if (scripted) return answer(scripted.status, scripted.body ?? {}, null, body);
      const problem = formatProblem(body);
      if (problem) return answer(400, metaError(100, 'Invalid parameter', problem), null, body);
      const to = String(body.to);
      if (body.type === 'template') {
        const name = String(body.template?.name);
        const language = String(body.template?.language?.code);
        if (!templates[name]?.includes(language)) {
          return answer(
            400,
            metaError(
              132001,
              '(#132001) Template name does not exist in the translation',
              `template name (${name}) does not exist in ${language}`,
            ),
            null,
            body,
          );
        }
      }
      const wamid = `wamid.${randomBytes(24).toString('base64url')}`;
      if (body.type !== 'template' && (lastInboundAt.get(to) ?? 0) < Date.now() - DAY_MS) {
        // Meta accepts the send and refuses it afterwards, in a failed status notification.
        pendingStatuses.push(
          statusOf(wamid, 'failed', to, [
            {
              code: 131047,
              title: 'Re-engagement message',
              message: 'Re-engagement message',
              error_data: { details: 'more than 24 hours since the customer last replied' },
            },
          ]),
        );
      }
      answer(
        200,
        {
          messaging_product: 'whatsapp',
          contacts: [{ input: to, wa_id: to }],
          messages: [{ id: wamid, ...(body.type === 'template' ? { message_status: 'accepted' } : {}) }],
        },
        wamid,
        body,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const notification = (value: Record<string, unknown>, phoneNumberId = options.phoneNumberId) => ({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: options.displayPhoneNumber ?? '15550783881',
                phone_number_id: phoneNumberId,
              },
              ...value,
            },
          },
        ],
      },
    ],
  });

  const statusOf = (wamid: string, status: string, recipient: string, errors?: unknown[]) => ({
    id: wamid,
    status,
    timestamp: String(Math.floor(Date.now() / 1000)),
    recipient_id: recipient,
    ...(errors ? { errors } : {}),
  });

  const peer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sends,
    pendingStatuses,
    lastInboundAt,
    /** The next sends get these answers, in order, whatever they carry. */
    answerNext(...answers: ScriptedAnswer[]) {
      script.push(...answers);
    },
    /** Meta's subscription check: GET with hub.* and expect the challenge back. */
    async subscribe(url: string, verifyToken: string): Promise<{ ok: boolean; status: number }> {
      const challenge = String(randomBytes(6).readUIntBE(0, 6));
      const query = new URLSearchParams({
        'hub.mode': 'subscribe',
        'hub.verify_token': verifyToken,
        'hub.challenge': challenge,
      });
      const response = await fetch(`${url}?${query}`);
      const ok = response.status === 200 && (await response.text()) === challenge;
      if (ok) webhookUrl = url;
      return { ok, status: response.status };
    },
    notification,
    /** Posts a notification to the subscribed webhook, signed with the app secret unless told otherwise. */
    async post(payload: unknown, sign: { signature?: string | null; raw?: string } = {}) {
      if (!webhookUrl) throw new Error('the stand-in has no webhook subscription: call subscribe() first');
      const raw = sign.raw ?? JSON.stringify(payload);
      const signature = sign.signature === undefined ? signatureOf(options.appSecret, raw) : sign.signature;
      const response = await fetch(webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
        },
        body: raw,
      });
      return { status: response.status, body: (await response.json().catch(() => null)) as unknown };
    },
    /** A customer's message as Meta notifies it; it also opens that customer's 24-hour window. */
    inbound(spec: InboundSpec) {
      const timestamp = spec.timestamp ?? Math.floor(Date.now() / 1000);
      lastInboundAt.set(spec.from, Math.max(lastInboundAt.get(spec.from) ?? 0, timestamp * 1000));
      const message = {
        from: spec.from,
        id: spec.id ?? `wamid.${randomBytes(24).toString('base64url')}`,
        timestamp: String(timestamp),
        ...(spec.context
          ? { context: { from: options.displayPhoneNumber ?? '15550783881', ...spec.context } }
          : {}),
        ...(spec.message ?? { type: 'text', text: { body: spec.text ?? 'Hello' } }),
      };
      return notification(
        {
          contacts: [{ profile: { name: spec.name ?? 'Customer' }, wa_id: spec.from }],
          messages: [message],
        },
        spec.phoneNumberId,
      );
    },
    status(wamid: string, status: 'sent' | 'delivered' | 'read' | 'failed', errors?: unknown[]) {
      const send = sends.find((s) => s.wamid === wamid);
      return notification({ statuses: [statusOf(wamid, status, String(send?.body?.to ?? '0'), errors)] });
    },
    /** Posts the notifications Meta would send later, one request each. */
    async flushStatuses() {
      const results = [];
      for (const status of pendingStatuses.splice(0))
        results.push(await peer.post(notification({ statuses: [status] })));
      return results;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return peer;
}

function metaError(code: number, message: string, details?: string) {
  return {
    error: {
      message,
      type: 'OAuthException',
      code,
      ...(details ? { error_data: { messaging_product: 'whatsapp', details } } : {}),
      fbtrace_id: randomBytes(8).toString('base64url'),
    },
  };
}

/** What the Cloud API would refuse about a send's shape, or null. */
function formatProblem(body: SendBody): string | null {
  if (body.messaging_product !== 'whatsapp') return 'messaging_product must be "whatsapp"';
  if (body.recipient_type !== undefined && body.recipient_type !== 'individual')
    return 'recipient_type must be "individual"';
  if (typeof body.to !== 'string' || !/^\d{6,15}$/.test(body.to))
    return 'to must be the phone number with country code, digits only';
  if (body.type === 'text') {
    const text = body.text?.body;
    if (typeof text !== 'string' || !text || text.length > 4096)
      return 'text.body must be 1 to 4096 characters';
    if (body.text?.preview_url !== undefined && typeof body.text.preview_url !== 'boolean')
      return 'text.preview_url must be a boolean';
    return null;
  }
  if (body.type === 'template') {
    const template = body.template;
    if (typeof template?.name !== 'string' || !template.name) return 'template.name is required';
    if (typeof template.language?.code !== 'string') return 'template.language.code is required';
    if (template.components !== undefined && !Array.isArray(template.components))
      return 'template.components must be a list';
    return null;
  }
  return `type ${String(body.type)} is not a type this stand-in takes`;
}
