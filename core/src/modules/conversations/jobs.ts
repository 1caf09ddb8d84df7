import type { JobDefinition } from '../../kernel/plugin.ts';
import { deadLetterMessage, deliverMessage } from './service/delivery.ts';
import { conversationNotices, DELIVER_JOB, publishNotices } from './service/messages.ts';
import { wakeSnoozedConversations } from './service/routing.ts';

export const WAKE_SNOOZED_JOB = 'conversations.wake-snoozed';

/**
 * Outbound delivery: by default six attempts over about two and a half minutes (5 s doubling),
 * then the message is marked failed, visibly and as an event. Each send carries the retry policy
 * of the settings (CONVERSATION_DELIVERY_*); the queue's is the fallback. Eight sends at once per
 * worker: they wait on providers. A crashed worker's send runs again after a minute. Once a minute, snoozed conversations whose time came reopen.
 */
export const conversationJobs: Record<string, JobDefinition<unknown>> = {
  [DELIVER_JOB]: {
    handle: deliverMessage,
    onDeadLetter: deadLetterMessage,
    retryLimit: 5,
    retryDelaySeconds: 5,
    retryBackoff: true,
    retryDelayMaxSeconds: 300,
    // A send that has not finished in a minute is from a worker that died: run it again then,
    // not after the default five minutes. Channels time out their provider calls well before.
    expireInSeconds: 60,
    concurrency: 8,
  },
  [WAKE_SNOOZED_JOB]: {
    everySeconds: 60,
    retryLimit: 2,
    handle: async (_data, ctx) => {
      const woken = await wakeSnoozedConversations(ctx.em);
      for (const { id, workspaceId } of woken) {
        await publishNotices(
          ctx.live,
          conversationNotices({ id, workspace: workspaceId, status: 'open' }),
          ctx.logger,
        );
      }
    },
  },
};
