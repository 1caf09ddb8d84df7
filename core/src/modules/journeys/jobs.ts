import { WORKSPACE_FILTER } from '../../db/orm.ts';
import { sql } from '../../db/sql.ts';
import { assertPublicHost } from '../../kernel/egress.ts';
import type { JobDefinition } from '../../kernel/plugin.ts';
import { scanScheduledTriggers } from './engine/scheduled.ts';
import { CALL_WEBHOOK_JOB, type CallWebhookJob } from './steps/webhook.ts';

/**
 * Time-based triggers (a date relative to a trait, schedules), scanned every minute in every
 * workspace; and the webhook step's calls, retried with backoff for about an hour.
 */
export const journeyJobs: Record<string, JobDefinition> = {
  [CALL_WEBHOOK_JOB]: {
    retryLimit: 8,
    retryDelaySeconds: 10,
    retryBackoff: true,
    retryDelayMaxSeconds: 900,
    concurrency: 8,
    handle: async (data: CallWebhookJob, ctx) => {
      const url = new URL(data.url);
      if (!ctx.settings.EGRESS_ALLOW_PRIVATE_NETWORKS) await assertPublicHost(url);
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          ...data.headers,
          'content-type': 'application/json',
          'idempotency-key': data.idempotencyKey,
          'user-agent': 'Atrium-Journeys/1.0',
        },
        body: JSON.stringify(data.body),
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(10_000), ctx.signal]),
      });
      if (!response.ok) throw new Error(`${url.host} answered ${response.status}`);
    },
  },
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
