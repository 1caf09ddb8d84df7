import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { recordEvent } from '../../../kernel/events.ts';
import type { EntryRules, JourneyDefinition } from '../definition.ts';

export interface EnrollOutcome {
  enrollmentId: string | null;
  /** Why the profile did not enter, when it did not. */
  refused: string | null;
}

/**
 * Enters a profile into a journey's published version if its entry rules allow it: re-entry
 * (never / after the previous enrollment ended / always, even while one runs), a cooldown and a total cap. An
 * advisory lock on (journey, profile) makes two triggers at once enter at most once.
 */
export async function enroll(
  em: EntityManager,
  target: { workspaceId: string; journeyId: string; version: number; definition: JourneyDefinition },
  profileId: string,
  now: Date,
  context: Record<string, unknown> = {},
): Promise<EnrollOutcome> {
  await sql(em, `select pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))`, [
    target.journeyId,
    profileId,
  ]);
  const [history] = await sql<{ total: number; running: number; last: Date | null }>(
    em,
    `select count(*)::int as total,
            count(*) filter (where status in ('active', 'waiting'))::int as running,
            max(entered_at) as last
     from journey_enrollment where journey_id = $1 and profile_id = $2`,
    [target.journeyId, profileId],
  );
  const refused = refusal(target.definition.entry, history ?? { total: 0, running: 0, last: null }, now);
  if (refused) return { enrollmentId: null, refused };
  const [row] = await sql<{ id: string }>(
    em,
    `insert into journey_enrollment (id, workspace_id, journey_id, version, profile_id, status, node, due_at, visits,
       control, context, entered_at, failures, updated_at)
     values (gen_random_uuid(), $1, $2, $3, $4, 'active', $5, $6, 0, false, $7::jsonb, $6, 0, now()) returning id`,
    [
      target.workspaceId,
      target.journeyId,
      target.version,
      profileId,
      target.definition.start,
      now,
      JSON.stringify(context),
    ],
  );
  const enrollmentId = (row as { id: string }).id;
  recordEvent(em, {
    type: 'journey.entered',
    workspaceId: target.workspaceId,
    subject: enrollmentId,
    payload: { journeyId: target.journeyId, version: target.version, profileId, enrollmentId },
  });
  return { enrollmentId, refused: null };
}

function refusal(
  rules: EntryRules,
  history: { total: number; running: number; last: Date | null },
  now: Date,
): string | null {
  // `always` lets a profile run through several times at once (one enrollment per order, say).
  if (history.running > 0 && rules.reentry !== 'always') return 'the profile is in this journey already';
  if (history.total > 0 && rules.reentry === 'never') return 'the journey does not allow re-entry';
  if (history.total >= rules.maxEntries)
    return `the profile entered ${history.total} times, the limit is ${rules.maxEntries}`;
  if (
    history.last &&
    rules.cooldownHours > 0 &&
    now.getTime() - history.last.getTime() < rules.cooldownHours * 3_600_000
  ) {
    return `the cooldown of ${rules.cooldownHours} hours since the last entry has not passed`;
  }
  return null;
}
