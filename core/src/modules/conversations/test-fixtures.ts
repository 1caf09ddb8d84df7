// Fixtures the conversation tests share: inboxes made through GraphQL, signed webhook posts of the
// test channel, relay ids, and a small reader for GraphQL subscriptions over server-sent events.
import { sql } from '../../db/sql.ts';
import { signTestWebhook, type TestWebhookBody } from '../../testing/fixtures/test-channel-plugin.ts';
import type { GraphQLClient, TestEnvironment } from '../../testing/index.ts';

export interface TestInbox {
  /** The global id. */
  id: string;
  /** The row id, as in the webhook path. */
  rowId: string;
  secret: string;
  webhookPath: string;
}

export async function createTestInbox(
  admin: GraphQLClient,
  channel: string,
  name: string,
): Promise<TestInbox> {
  const data = await admin.ok(
    `mutation ($input: CreateChannelInboxInput!) {
      createChannelInbox(input: $input) {
        __typename
        ... on CreateChannelInboxPayload { secret channelInbox { id webhookPath } }
        ... on Error { message }
      }
    }`,
    { input: { channel, name } },
  );
  const payload = data.createChannelInbox;
  if (payload.__typename !== 'CreateChannelInboxPayload') throw new Error(payload.message);
  const webhookPath = payload.channelInbox.webhookPath as string;
  return {
    id: payload.channelInbox.id,
    rowId: webhookPath.split('/')[2] as string,
    secret: payload.secret,
    webhookPath,
  };
}

/** Posts a body to an inbox's webhook, signed unless `signature` says otherwise. */
export async function postWebhook(
  env: TestEnvironment,
  inbox: TestInbox,
  body: TestWebhookBody,
  options: { signature?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const raw = JSON.stringify(body);
  const response = await fetch(`${env.url}${inbox.webhookPath}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-test-signature': options.signature ?? signTestWebhook(inbox.secret, raw),
    },
    body: raw,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** One inbound message through the webhook; throws unless it was accepted. */
export async function inbound(
  env: TestEnvironment,
  inbox: TestInbox,
  message: NonNullable<TestWebhookBody['messages']>[number],
): Promise<void> {
  const answer = await postWebhook(env, inbox, { messages: [message] });
  if (answer.status !== 200)
    throw new Error(`webhook answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

/** The conversation (row id) the message with this provider id landed in. */
export async function conversationOfProviderId(env: TestEnvironment, providerId: string): Promise<string> {
  const [row] = await sql<{ id: string }>(
    env.em(),
    'select conversation_id as id from message where provider_message_id = $1',
    [providerId],
  );
  if (!row) throw new Error(`no message has provider id ${providerId}`);
  return row.id;
}

export const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
export const rowIdOf = (globalId: string) =>
  Buffer.from(globalId, 'base64').toString('utf8').split(':')[1] as string;

export async function count(env: TestEnvironment, table: string, where = 'true', params: unknown[] = []) {
  const [row] = await sql<{ n: number }>(
    env.em(),
    `select count(*)::int as n from ${table} where ${where}`,
    params,
  );
  return row?.n ?? 0;
}

/** A GraphQL subscription over server-sent events, read as the events arrive. */
export interface EventStream {
  /** The next `next` event's payload, or a timeout error. */
  next(timeoutMs?: number): Promise<{
    data?: Record<string, unknown>;
    errors?: { message: string; extensions?: { code?: string } }[];
  }>;
  /** Waits for an event `match` accepts, skipping the others. */
  until(
    match: (data: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  close(): void;
  status: number;
  contentType: string | null;
}

export async function subscribe(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  const reader = response.body?.getReader();
  if (!reader) throw new Error('the subscription answered without a body');
  const decoder = new TextDecoder();
  let buffer = '';
  const queue: Record<string, unknown>[] = [];
  let ended = false;
  // Resolves the reader's current wait when something arrives.
  const waiter: { wake: (() => void) | null } = { wake: null };
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === 'next' && data) queue.push(JSON.parse(data));
          if (event === 'complete') ended = true;
          cut = buffer.indexOf('\n\n');
        }
        waiter.wake?.();
      }
    } catch {
      // Aborted by close().
    } finally {
      ended = true;
      waiter.wake?.();
    }
  })();
  const next = async (timeoutMs = 10000) => {
    const deadline = Date.now() + timeoutMs;
    while (!queue.length) {
      if (ended) throw new Error('the event stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        waiter.wake = resolve;
        setTimeout(resolve, Math.min(left, 200));
      });
      waiter.wake = null;
    }
    return queue.shift() as Awaited<ReturnType<EventStream['next']>>;
  };
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    next,
    async until(match, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const event = await next(Math.max(1, deadline - Date.now()));
        if (event.errors) throw new Error(`subscription error: ${JSON.stringify(event.errors)}`);
        if (event.data && match(event.data)) return event.data;
      }
    },
    close: () => controller.abort(),
  };
}
