import { sql } from '../../db/sql.ts';
import type { DataSubjectContext } from '../../kernel/plugin.ts';

/** GDPR export: the person's journeys, where they went and what each step did. */
export async function exportEnrollments(
  _profileId: string,
  ctx: DataSubjectContext,
): Promise<Record<string, unknown>> {
  const enrollments = await sql(
    ctx.em,
    `select e.id, j.key as journey, e.version, e.status, e.entered_at as "enteredAt", e.ended_at as "endedAt",
       e.end_reason as "endReason", e.goal_at as "goalAt",
       (select coalesce(json_agg(json_build_object('node', r.node, 'step', r.step_type, 'outcome', r.outcome,
          'note', r.note, 'at', r.created_at) order by r.visit), '[]') from journey_step_run r where r.enrollment_id = e.id) as steps
     from journey_enrollment e join journey j on j.id = e.journey_id
     where e.workspace_id = $1 and e.profile_id = any($2::uuid[]) order by e.entered_at`,
    [ctx.workspaceId, ctx.profileIds],
  );
  return { enrollments };
}

/** GDPR erasure: the person's enrollments and their step ledger go (the ledger cascades). */
export async function eraseEnrollments(_profileId: string, ctx: DataSubjectContext): Promise<number> {
  const gone = await sql(
    ctx.em,
    `delete from journey_enrollment where workspace_id = $1 and profile_id = any($2::uuid[]) returning id`,
    [ctx.workspaceId, ctx.profileIds],
  );
  return gone.length;
}
