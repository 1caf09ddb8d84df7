import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';

export interface StepStats {
  node: string;
  stepType: string;
  entered: number;
  completed: number;
  /** Enrollments that left the journey at this step (exited, failed) without reaching the goal. */
  dropped: number;
  /** Enrollments at this step now. */
  current: number;
  outcomes: { outcome: string; count: number }[];
}

export interface JourneyAnalytics {
  version: number | null;
  enrolled: number;
  active: number;
  completed: number;
  exited: number;
  failed: number;
  converted: number;
  conversionRate: number;
  /** Median hours from entry to the goal, among those who reached it. */
  medianHoursToGoal: number | null;
  control: { enrolled: number; converted: number; conversionRate: number } | null;
  treatment: { enrolled: number; converted: number; conversionRate: number } | null;
  /** Treatment rate minus control rate, in percentage points; null without a control group. */
  upliftPoints: number | null;
  steps: StepStats[];
  /** Steps ordered by drop-outs, most first: where the journey loses people. */
  dropOffs: StepStats[];
}

/** Where a journey's enrollments are, went and left; one version or all of them. */
export async function journeyAnalytics(
  em: EntityManager,
  journeyId: string,
  version: number | null,
): Promise<JourneyAnalytics> {
  const params = [journeyId, version];
  const versionFilter = `($2::int is null or version = $2::int)`;
  const [totals] = await sql<{
    enrolled: number;
    active: number;
    completed: number;
    exited: number;
    failed: number;
    converted: number;
    median_hours: number | null;
    c_enrolled: number;
    c_converted: number;
    t_enrolled: number;
    t_converted: number;
  }>(
    em,
    `select count(*)::int as enrolled,
       count(*) filter (where status in ('active', 'waiting'))::int as active,
       count(*) filter (where status = 'completed')::int as completed,
       count(*) filter (where status = 'exited')::int as exited,
       count(*) filter (where status = 'failed')::int as failed,
       count(goal_at)::int as converted,
       percentile_cont(0.5) within group (order by extract(epoch from goal_at - entered_at) / 3600)
         filter (where goal_at is not null) as median_hours,
       count(*) filter (where control)::int as c_enrolled,
       count(goal_at) filter (where control)::int as c_converted,
       count(*) filter (where not control)::int as t_enrolled,
       count(goal_at) filter (where not control)::int as t_converted
     from journey_enrollment where journey_id = $1 and ${versionFilter}`,
    params,
  );
  const t = totals as NonNullable<typeof totals>;
  const runs = await sql<{
    node: string;
    step_type: string;
    outcome: string | null;
    count: number;
    dropped: number;
    current: number;
  }>(
    em,
    `select r.node, r.step_type, r.outcome, count(*)::int as count,
       count(*) filter (where r.outcome is null and e.status in ('exited', 'failed') and e.goal_at is null
                          and e.node = r.node and e.visits = r.visit)::int as dropped,
       count(*) filter (where r.outcome is null and e.status in ('active', 'waiting') and e.node = r.node and e.visits = r.visit)::int as current
     from journey_step_run r join journey_enrollment e on e.id = r.enrollment_id
     where r.journey_id = $1 and ($2::int is null or r.version = $2::int)
     group by 1, 2, 3`,
    params,
  );
  const byNode = new Map<string, StepStats>();
  for (const row of runs) {
    const stats = byNode.get(row.node) ?? {
      node: row.node,
      stepType: row.step_type,
      entered: 0,
      completed: 0,
      dropped: 0,
      current: 0,
      outcomes: [],
    };
    stats.entered += row.count;
    if (row.outcome !== null) {
      stats.completed += row.count;
      stats.outcomes.push({ outcome: row.outcome, count: row.count });
    }
    stats.dropped += row.dropped;
    stats.current += row.current;
    byNode.set(row.node, stats);
  }
  const rate = (converted: number, enrolled: number) => (enrolled ? converted / enrolled : 0);
  const control = t.c_enrolled
    ? { enrolled: t.c_enrolled, converted: t.c_converted, conversionRate: rate(t.c_converted, t.c_enrolled) }
    : null;
  const treatment = control
    ? { enrolled: t.t_enrolled, converted: t.t_converted, conversionRate: rate(t.t_converted, t.t_enrolled) }
    : null;
  const steps = [...byNode.values()];
  return {
    version,
    enrolled: t.enrolled,
    active: t.active,
    completed: t.completed,
    exited: t.exited,
    failed: t.failed,
    converted: t.converted,
    conversionRate: rate(t.converted, t.enrolled),
    medianHoursToGoal: t.median_hours === null ? null : Number(t.median_hours),
    control,
    treatment,
    upliftPoints: control && treatment ? (treatment.conversionRate - control.conversionRate) * 100 : null,
    steps,
    dropOffs: steps.filter((s) => s.dropped > 0).sort((a, b) => b.dropped - a.dropped),
  };
}
