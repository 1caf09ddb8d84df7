import type { JobDefinition } from '../../kernel/plugin.ts';
import { cleanUpAuditLog } from './service.ts';

export const AUDIT_CLEANUP = 'audit.cleanup';

export const auditJobs: Record<string, JobDefinition> = {
  [AUDIT_CLEANUP]: {
    everySeconds: 3600,
    retryLimit: 2,
    expireInSeconds: 1800,
    handle: async (_data, ctx) => {
      const removed = await cleanUpAuditLog(ctx.em, ctx.settings.AUDIT_RETENTION_DAYS);
      if (removed) ctx.logger.info({ removed }, 'audit entries past AUDIT_RETENTION_DAYS removed');
    },
  },
};
