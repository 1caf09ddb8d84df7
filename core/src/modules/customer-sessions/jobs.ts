import type { JobDefinition } from '../../kernel/plugin.ts';
import { pruneCustomerSessions } from './service.ts';

export const PRUNE_CUSTOMER_SESSIONS = 'customer-sessions.prune';

export const customerSessionJobs: Record<string, JobDefinition> = {
  [PRUNE_CUSTOMER_SESSIONS]: {
    everySeconds: 3600,
    retryLimit: 2,
    expireInSeconds: 600,
    handle: async (_data, ctx) => {
      const removed = await pruneCustomerSessions(ctx.em);
      if (removed) ctx.logger.info({ removed }, 'ended customer sessions removed');
    },
  },
};
