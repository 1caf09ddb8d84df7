import { defineModule } from '../../kernel/plugin.ts';
import { auditJobs } from './jobs.ts';
import { auditSchema } from './schema.ts';
import { eraseAuditTargets } from './service.ts';

/** The append-only audit log: every Admin mutation, and what modules record explicitly. */
export const auditModule = defineModule({
  name: 'audit',
  schema: auditSchema,
  jobs: auditJobs,
  eraseProfile: (_profileId, ctx) => eraseAuditTargets(ctx.em, ctx.workspaceId, ctx.profileIds),
});
