// What the web chat tests share: inboxes through the Admin graph, visitor sessions over HTTP, and
// a reader for the visitor's event stream (GraphQL over server-sent events).
import type { GraphQLClient, TestEnvironment } from '@atrium/core/testing';

export const SHOP = 'http://shop.test';

export interface MessageJson {
  id: string;
  author: string;
  authorName: string | null;
  text: string | null;
  createdAt: string;
}

export interface EventJson {
  kind: 'READY' | 'MESSAGE' | 'TYPING';
  typing: boolean | null;
  author: string | null;
  authorName: string | null;
  message: MessageJson | null;
}

/** What the plugin's routes answer: the session on success, else `error`. */
export interface RouteAnswer {
  token: string;
  expiresAt: string;
  anonymousId: string;
  anonymousIdIgnored: boolean;
  greeting: string | null;
  identified?: boolean;
  merged?: boolean;
  error?: { code: string; message: string; field?: string };
}

export interface WebchatTestInbox {
  /** The global id. */
  id: string;
  /** The row id, as the widget's `data-inbox` names it. */
  rowId: string;
  secret: string;
}

export async function createWebchatInbox(
  admin: GraphQLClient,
  settings: Record<string, unknown> = {},
): Promise<WebchatTestInbox> {
  const data = await admin.ok(
    `mutation ($input: CreateChannelInboxInput!) {
      createChannelInbox(input: $input) {
        __typename
        ... on CreateChannelInboxPayload { secret channelInbox { id } }
        ... on Error { message }
      }
    }`,
    {
      input: {
        channel: 'webchat',
        name: 'Shop chat',
        settings: { allowedOrigins: [SHOP], greeting: { de: 'Hallo!', en: 'Hello!' }, ...settings },
      },
    },
  );
  const payload = data.createChannelInbox;
  if (payload.__typename !== 'CreateChannelInboxPayload') throw new Error(payload.message);
  const id = payload.channelInbox.id as string;
  return { id, rowId: rowIdOf(id), secret: payload.secret };
}

export const rowIdOf = (globalId: string) =>
  Buffer.from(globalId, 'base64').toString('utf8').split(':')[1] as string;
export const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');

let address = 0;

/** POST /sessions as a page on `origin` would; each call comes from its own client address. */
export async function postSession(
  env: TestEnvironment,
  body: Record<string, unknown>,
  options: { origin?: string | null; address?: string } = {},
): Promise<{ status: number; headers: Headers; body: RouteAnswer }> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-forwarded-for': options.address ?? `10.1.${Math.floor(++address / 250)}.${address % 250}`,
  };
  const origin = options.origin === undefined ? SHOP : options.origin;
  if (origin) headers.origin = origin;
  const response = await fetch(`${env.url}/plugins/channel-webchat/sessions`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as RouteAnswer };
}

export async function openVisitor(
  env: TestEnvironment,
  inbox: WebchatTestInbox,
  body: Record<string, unknown> = {},
  origin: string | null = SHOP,
): Promise<{ token: string; anonymousId: string; client: GraphQLClient }> {
  const answer = await postSession(env, { inboxId: inbox.rowId, ...body }, { origin });
  if (answer.status !== 201)
    throw new Error(`POST /sessions answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return {
    token: answer.body.token,
    anonymousId: answer.body.anonymousId,
    client: env.publicClient.withToken(answer.body.token),
  };
}

export async function postIdentify(
  env: TestEnvironment,
  token: string,
  body: Record<string, unknown>,
  origin: string | null = SHOP,
): Promise<{ status: number; body: RouteAnswer }> {
  const response = await fetch(`${env.url}/plugins/channel-webchat/identify`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      ...(origin ? { origin } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as RouteAnswer };
}

export const MESSAGE_FIELDS = 'id author authorName text createdAt';

export async function sendAsVisitor(
  client: GraphQLClient,
  text: string,
  idempotencyKey: string = crypto.randomUUID(),
) {
  const data = await client.ok(
    `mutation ($input: SendWebchatMessageInput!) {
      sendWebchatMessage(input: $input) {
        __typename
        ... on SendWebchatMessagePayload { sentMessage { ${MESSAGE_FIELDS} } }
        ... on Error { message }
      }
    }`,
    { input: { text, idempotencyKey } },
  );
  return data.sendWebchatMessage;
}

export async function visitorMessages(client: GraphQLClient): Promise<MessageJson[] | null> {
  const data = await client.ok<{
    webchatConversation: { messages: { edges: { node: MessageJson }[] } } | null;
  }>(`{ webchatConversation { id messages(first: 100) { edges { node { ${MESSAGE_FIELDS} } } } } }`);
  if (!data.webchatConversation) return null;
  return data.webchatConversation.messages.edges.map((e) => e.node).reverse();
}

/** The visitor's event stream, read as the widget reads it. */
export class EventStream {
  readonly events: EventJson[] = [];
  readonly #controller = new AbortController();
  readonly status: Promise<number>;
  #waiters: (() => void)[] = [];

  constructor(url: string, token: string) {
    this.status = this.#read(url, token);
    this.status.catch(() => {});
  }

  async #read(url: string, token: string): Promise<number> {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({
        query: `subscription { webchatEvents { kind typing author authorName message { ${MESSAGE_FIELDS} } } }`,
      }),
      signal: this.#controller.signal,
    });
    if (!response.ok || !response.body) return response.status;
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
            const data = block
              .split('\n')
              .filter((line) => line.startsWith('data:'))
              .map((line) => line.slice(5))
              .join('\n')
              .trim();
            if (block.includes('event: next') && data) {
              const parsed = JSON.parse(data) as { data?: { webchatEvents?: EventJson } };
              if (parsed.data?.webchatEvents) this.events.push(parsed.data.webchatEvents);
              for (const wake of this.#waiters.splice(0)) wake();
            }
          }
        }
      } catch {
        // aborted
      }
    })();
    return response.status;
  }

  /** Waits for an event that matches, seen before or arriving within `timeoutMs`. */
  async next(
    match: (event: EventJson) => boolean,
    timeoutMs = 10_000,
    what = 'an event',
  ): Promise<EventJson> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#controller.abort();
  }
}
