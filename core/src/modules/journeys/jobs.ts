import { WORKSPACE_FILTER } from '../../db/orm.ts';
import { sql } from '../../db/sql.ts';
import type { JobDefinition } from '../../kernel/plugin.ts';
import { scanScheduledTriggers } from './engine/scheduled.ts';

/** Time-based triggers (a date relative to a trait, schedules), scanned every minute in every workspace. */
export const journeyJobs: Record<string, JobDefinition> = {
  'journeys.scan-schedules': {
    everySeconds: 60,
    retryLimit: 0,
    handle: async (_data, ctx) => {
      const workspaces = await sql<{ workspace_id: string }>(
        ctx.em,
        `select distinct j.workspace_id from journey j join journey_version v on v.journey_id = j.id and v.version = j.published_version
         where j.status = 'published' and v.definition -> 'trigger' ->> 'type' in ('trait-date', 'schedule')`,
      );
      for (const { workspace_id } of workspaces) {
        const em = ctx.em.fork();
        em.setFilterParams(WORKSPACE_FILTER, { id: workspace_id });
        const entered = await em.transactional((tx) => scanScheduledTriggers(tx, workspace_id, new Date()));
        if (entered)
          ctx.logger.info(
            { workspaceId: workspace_id, entered },
            'scheduled journey triggers entered profiles',
          );
      }
    },
  },
};
