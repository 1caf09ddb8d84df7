import type { JobDefinition } from '../../../kernel/plugin.ts';
import { applyRetention } from './retention.ts';

export const RETENTION_QUEUE = 'profiles.retention';

/** Deletes expired events of every workspace, hourly (so each run's deletes stay small). */
export const retentionJobs: Record<string, JobDefinition> = {
  [RETENTION_QUEUE]: {
    everySeconds: 3600,
    retryLimit: 2,
    expireInSeconds: 3600,
    handle: async (_data, ctx) => {
      const outcome = await applyRetention(ctx.em, { signal: ctx.signal });
      ctx.logger.info({ deleted: outcome.deleted, total: outcome.total }, 'retention applied');
    },
  },
};
