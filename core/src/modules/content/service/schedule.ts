import { WORKSPACE_FILTER } from '../../../db/orm.ts';
import { sql } from '../../../db/sql.ts';
import type { JobContext, JobDefinition } from '../../../kernel/plugin.ts';
import type { Actor } from './entries.ts';
import { findEntry } from './entries.ts';
import { publishApproved, unpublishLive } from './workflow.ts';

export const RUN_CONTENT_SCHEDULE = 'content.schedule';

/** The scheduler acts with an admin's rights, under its own name in the transitions. */
const scheduler: Actor = { subject: 'scheduler', scopes: ['admin'] };

/**
 * Publishes approved entries whose `publishAt` has come and unpublishes live ones whose
 * `unpublishAt` has, across workspaces, each in its own transaction: one failure stops no other.
 */
async function runSchedule(_data: unknown, ctx: JobContext): Promise<void> {
  const due = await sql<{ id: string; workspace_id: string; action: 'publish' | 'unpublish' }>(
    ctx.em,
    `select id, workspace_id, 'publish' as action from content_entry
       where status = 'approved' and publish_at <= now()
     union all
     select id, workspace_id, 'unpublish' as action from content_entry
       where published_version is not null and unpublish_at <= now()`,
  );
  let done = 0;
  for (const row of due) {
    const em = ctx.em.fork();
    em.setFilterParams(WORKSPACE_FILTER, { id: row.workspace_id });
    try {
      await em.transactional(async (tem) => {
        const entry = await findEntry(tem, row.id);
        // Checked again inside the transaction: an editor may have acted since the scan.
        const now = new Date();
        if (
          row.action === 'publish' &&
          entry.status === 'approved' &&
          entry.publishAt &&
          entry.publishAt <= now
        )
          await publishApproved(tem, entry, scheduler);
        else if (
          row.action === 'unpublish' &&
          entry.publishedVersion !== null &&
          entry.unpublishAt &&
          entry.unpublishAt <= now
        )
          await unpublishLive(tem, entry, scheduler, 'scheduled');
        else return;
        await tem.flush();
        done++;
      });
    } catch (error) {
      ctx.logger.error(
        { err: error, entryId: row.id, action: row.action },
        'scheduled content change failed',
      );
    }
  }
  if (due.length) ctx.logger.info({ due: due.length, done }, 'content schedule ran');
}

export const contentScheduleJobs: Record<string, JobDefinition> = {
  [RUN_CONTENT_SCHEDULE]: { handle: runSchedule, everySeconds: 60, retryLimit: 2, expireInSeconds: 300 },
};
