import type { JobDefinition } from '../../kernel/plugin.ts';
import { deadLetterMessage, deliverMessage } from './service/delivery.ts';
import { DELIVER_JOB, type DeliverJob } from './service/messages.ts';

/**
 * Outbound delivery: six attempts over about ten minutes (5 s doubling), then the message is
 * marked failed, visibly and as an event. Eight sends at once per worker: they wait on providers.
 */
export const conversationJobs: Record<string, JobDefinition<unknown, DeliverJob>> = {
  [DELIVER_JOB]: {
    handle: deliverMessage,
    onDeadLetter: deadLetterMessage,
    retryLimit: 5,
    retryDelaySeconds: 5,
    retryBackoff: true,
    retryDelayMaxSeconds: 300,
    concurrency: 8,
  },
};
