import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';

/** One step the engine ran: a row of the ledger. Outcome null while the step waits. */
export interface LedgerRow {
  node: string;
  visit: number;
  stepType: string;
  outcome: string | null;
  note: string | null;
}

/** Where an enrollment stands after its turn, and what its turn did. */
export interface EnrollmentState {
  id: string;
  journeyId: string;
  version: number;
  status: 'active' | 'waiting' | 'completed' | 'failed';
  node: string | null;
  visits: number;
  dueAt: Date | null;
  awaitingEvent: string | null;
  wokenBy: string | null;
  context: Record<string, unknown>;
  failures: number;
  endReason: string | null;
  endedAt: Date | null;
  ledger: LedgerRow[];
  /** The waiting ledger row this turn closed, with the outcome the wait ended in. */
  close: { visit: number; outcome: string } | null;
}

/**
 * Writes a batch's results in three statements, whatever its size: the new ledger rows, the
 * outcomes of waits that ended, and every enrollment's new position. Row-by-row writes were
 * most of the engine's time.
 */
export async function writeBatch(
  em: EntityManager,
  workspaceId: string,
  now: Date,
  states: EnrollmentState[],
): Promise<void> {
  const ledger = states.flatMap((s) => s.ledger.map((row) => ({ ...row, enrollment: s })));
  if (ledger.length) {
    await sql(
      em,
      `insert into journey_step_run (id, workspace_id, journey_id, version, enrollment_id, node, visit, step_type, outcome, note, created_at)
       select gen_random_uuid(), $1, x.journey_id, x.version, x.enrollment_id, x.node, x.visit, x.step_type, x.outcome, left(x.note, 500), $2
       from unnest($3::uuid[], $4::int[], $5::uuid[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[])
         as x(journey_id, version, enrollment_id, node, visit, step_type, outcome, note)`,
      [
        workspaceId,
        now,
        ledger.map((r) => r.enrollment.journeyId),
        ledger.map((r) => r.enrollment.version),
        ledger.map((r) => r.enrollment.id),
        ledger.map((r) => r.node),
        ledger.map((r) => r.visit),
        ledger.map((r) => r.stepType),
        ledger.map((r) => r.outcome),
        ledger.map((r) => r.note),
      ],
    );
  }
  const closes = states.filter((s) => s.close);
  if (closes.length) {
    await sql(
      em,
      `update journey_step_run r set outcome = x.outcome
       from unnest($1::uuid[], $2::int[], $3::text[]) as x(enrollment_id, visit, outcome)
       where r.enrollment_id = x.enrollment_id and r.visit = x.visit`,
      [closes.map((s) => s.id), closes.map((s) => s.close?.visit), closes.map((s) => s.close?.outcome)],
    );
  }
  if (!states.length) return;
  await sql(
    em,
    `update journey_enrollment e set status = x.status, node = x.node, visits = x.visits, due_at = x.due_at,
       awaiting_event = x.awaiting_event, woken_by = x.woken_by, context = x.context,
       control = coalesce((x.context ->> 'control')::boolean, e.control), failures = x.failures,
       end_reason = coalesce(x.end_reason, e.end_reason), ended_at = x.ended_at, updated_at = now()
     from unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[], $7::text[], $8::jsonb[],
                 $9::int[], $10::text[], $11::timestamptz[])
       as x(id, status, node, visits, due_at, awaiting_event, woken_by, context, failures, end_reason, ended_at)
     where e.id = x.id`,
    [
      states.map((s) => s.id),
      states.map((s) => s.status),
      states.map((s) => s.node),
      states.map((s) => s.visits),
      states.map((s) => s.dueAt),
      states.map((s) => s.awaitingEvent),
      states.map((s) => s.wokenBy),
      states.map((s) => JSON.stringify(s.context)),
      states.map((s) => s.failures),
      states.map((s) => s.endReason?.slice(0, 300) ?? null),
      states.map((s) => s.endedAt),
    ],
  );
}
