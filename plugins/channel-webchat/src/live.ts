import { conversationTopic, type LiveBus, type MessageAuthor } from '@atrium/core';
import type { WebchatMessageView } from './service.ts';

/**
 * Where the web chat channel "delivers" what agents and the assistant send a visitor: one topic
 * per profile, so a reply reaches the visitor whichever of their conversations it went to.
 */
export const visitorTopic = (profileId: string) => `webchat:${profileId}`;

/** What `visitorTopic` carries: the message to re-read, never its text (notices stay small). */
export interface VisitorMessageNotice {
  kind: 'message';
  conversationId: string;
  messageId: string;
}

/**
 * Someone is typing in a conversation, on `conversationTopic(id)` (kind `typing`): agents' views
 * show the visitor's, the visitor's stream shows everyone else's.
 */
export interface TypingNotice {
  kind: 'typing';
  conversationId: string;
  author: MessageAuthor;
  /** The agent's subject; null for the customer. */
  authorId: string | null;
  /** false: stopped typing. Absent counts as typing (an agent's indicator sends none). */
  typing?: boolean;
}

export type WebchatEvent =
  | { kind: 'ready' }
  | { kind: 'message'; message: WebchatMessageView }
  | { kind: 'typing'; typing: boolean; author: MessageAuthor; authorName: string | null };

export interface VisitorStreamOptions {
  /** The visitor's live conversation when the stream starts (typing is per conversation). */
  conversationId: string | null;
  /** The stream ends after this long; the widget reconnects, re-authenticating. */
  lifetimeMs: number;
  /** Re-reads a message the visitor may see; null when they may not. */
  loadMessage: (messageId: string) => Promise<WebchatMessageView | null>;
  agentName: (subject: string) => Promise<string | null>;
}

/**
 * The visitor's live events: `ready` once both subscriptions listen (read the conversation
 * then, and nothing falls between), then new messages from their topic and others' typing in
 * their current conversation. A message in another conversation (after a merge) moves the
 * typing subscription there.
 */
export function visitorEvents(
  live: LiveBus,
  profileId: string,
  options: VisitorStreamOptions,
): AsyncIterableIterator<WebchatEvent> {
  const stop = new AbortController();
  const events = streamOf(live, profileId, options, stop);
  // A client that goes away calls `return` while the generator waits for a notice; a generator
  // would only see it after the next notice, so stop first, which ends that wait.
  return {
    next: () => events.next(),
    return: (value?: unknown) => {
      stop.abort();
      return events.return(value as undefined);
    },
    throw: (error?: unknown) => {
      stop.abort();
      return events.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

async function* streamOf(
  live: LiveBus,
  profileId: string,
  options: VisitorStreamOptions,
  stop: AbortController,
): AsyncGenerator<WebchatEvent, undefined> {
  const timer = setTimeout(() => stop.abort(), options.lifetimeMs);
  const queue = new NoticeQueue();
  queue.pump(live.subscribe(visitorTopic(profileId), stop.signal));
  const seen = new Set<string>();
  let current: string | null = null;
  let typingStop: AbortController | null = null;
  const follow = (conversationId: string | null) => {
    if (!conversationId || conversationId === current) return;
    typingStop?.abort();
    typingStop = new AbortController();
    current = conversationId;
    queue.pump(
      live.subscribe(conversationTopic(conversationId), AbortSignal.any([stop.signal, typingStop.signal])),
    );
  };
  follow(options.conversationId);
  try {
    yield { kind: 'ready' };
    for (;;) {
      const notice = await queue.next(stop.signal);
      if (!notice) return undefined;
      if (notice.kind === 'message' && typeof notice.messageId === 'string') {
        // The same message may come on both topics; status notices are not new messages.
        if (seen.has(notice.messageId)) continue;
        const message = await options.loadMessage(notice.messageId);
        if (!message) continue;
        remember(seen, message.id);
        follow(message.conversationId);
        yield { kind: 'message', message };
      } else if (
        notice.kind === 'typing' &&
        notice.author !== 'customer' &&
        notice.conversationId === current
      ) {
        const author = notice.author as MessageAuthor;
        const authorName =
          author === 'agent' && typeof notice.authorId === 'string'
            ? await options.agentName(notice.authorId)
            : null;
        // An agent's indicator may say only "typing" (no `typing` field): absent means typing.
        yield { kind: 'typing', typing: notice.typing !== false, author, authorName };
      }
    }
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
}

function remember(seen: Set<string>, id: string): void {
  if (seen.size >= 1000) seen.clear();
  seen.add(id);
}

/** Notices from several subscriptions, in arrival order, for one reader. */
class NoticeQueue {
  readonly #items: Record<string, unknown>[] = [];
  #wake: (() => void) | null = null;

  pump(source: AsyncIterable<Record<string, unknown>>): void {
    void (async () => {
      for await (const item of source) {
        this.#items.push(item);
        this.#wake?.();
      }
    })().catch(() => {});
  }

  /** The next notice, or null once `signal` aborted. */
  async next(signal: AbortSignal): Promise<Record<string, unknown> | null> {
    while (this.#items.length === 0) {
      if (signal.aborted) return null;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          this.#wake = null;
          resolve();
        };
        this.#wake = done;
        signal.addEventListener('abort', done);
      });
    }
    return this.#items.shift() ?? null;
  }
}
