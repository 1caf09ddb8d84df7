import { sql } from '../../db/sql.ts';
import type { JobContext, JobDefinition } from '../../kernel/plugin.ts';

export const OUTBOX_CLEANUP = 'outbox.cleanup';
const BATCH = 5000;

/**
 * Delivered events are history: after OUTBOX_RETENTION_DAYS an event whose every delivery
 * succeeded goes, with its deliveries. Dead letters stay until an admin retried them.
 * Deletes run in batches so that no run holds a long lock.
 */
export async function cleanUpOutbox(ctx: Pick<JobContext, 'em' | 'settings' | 'logger'>): Promise<number> {
  const cutoff = new Date(Date.now() - ctx.settings.OUTBOX_RETENTION_DAYS * 86_400_000);
  let removed = 0;
  for (;;) {
    const rows = await sql<{ id: string }>(
      ctx.em,
      `with done as (
         select e.id from outbox_event e
         where e.published_at is not null and e.occurred_at < $1
           and not exists (select 1 from event_delivery d where d.event_id = e.id and d.status <> 'succeeded')
         limit ${BATCH})
       , gone as (delete from event_delivery d using done where d.event_id = done.id)
       delete from outbox_event e using done where e.id = done.id returning e.id`,
      [cutoff],
    );
    removed += rows.length;
    if (rows.length < BATCH) break;
  }
  if (removed) ctx.logger.info({ removed }, 'delivered outbox events removed');
  return removed;
}

export const outboxJobs: Record<string, JobDefinition> = {
  [OUTBOX_CLEANUP]: {
    everySeconds: 3600,
    retryLimit: 2,
    expireInSeconds: 1800,
    handle: async (_data, ctx) => void (await cleanUpOutbox(ctx)),
  },
};
