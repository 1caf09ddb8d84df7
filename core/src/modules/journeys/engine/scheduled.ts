import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import type { Trigger } from '../definition.ts';
import { liveJourneys } from '../service/catalog.ts';
import { localDate } from './clock.ts';
import { enroll } from './enroll.ts';

/** Profiles entered per journey per scan; the next scan (a minute later) takes the rest. */
const BATCH = 2000;

/**
 * Time-based triggers, scanned every minute: a date relative to a trait ("30 days before
 * contract_end", at 09:00 on the profile's clock) and schedules ("every Monday at 08:00 in
 * Europe/Zurich", optionally only a segment). The date a run is for is kept in the enrollment's
 * context, so a scan that runs twice, or two workers, enter each profile once per date.
 */
export async function scanScheduledTriggers(
  em: EntityManager,
  workspaceId: string,
  now: Date,
): Promise<number> {
  let entered = 0;
  for (const journey of await liveJourneys(em, workspaceId)) {
    const trigger = journey.definition.trigger;
    const due =
      trigger.type === 'trait-date'
        ? await traitDateProfiles(em, workspaceId, journey.journeyId, trigger, now)
        : trigger.type === 'schedule'
          ? await scheduledProfiles(em, workspaceId, journey.journeyId, trigger, now)
          : [];
    for (const { profile_id, for_date } of due) {
      const outcome = await enroll(em, journey, profile_id, now, { forDate: for_date });
      if (outcome.enrollmentId) entered += 1;
    }
  }
  return entered;
}

async function traitDateProfiles(
  em: EntityManager,
  workspaceId: string,
  journeyId: string,
  trigger: Extract<Trigger, { type: 'trait-date' }>,
  now: Date,
): Promise<{ profile_id: string; for_date: string }[]> {
  // The trait's date, moved by the offset, is today on the profile's clock, and its time has come.
  return sql(
    em,
    `with zones as materialized (select name from pg_timezone_names),
     p as (
       select pr.id, (substring(pr.traits ->> $2 from '^\\d{4}-\\d{2}-\\d{2}'))::date + $3::int as for_date,
              ($5::timestamptz at time zone coalesce(z.name, 'UTC')) as local_now
       from profile pr left join zones z on z.name = pr.traits ->> 'timezone'
       where pr.workspace_id = $1 and pr.traits ->> $2 ~ '^\\d{4}-\\d{2}-\\d{2}')
     select p.id as profile_id, p.for_date::text as for_date from p
     where p.for_date = p.local_now::date and p.local_now::time >= $4::time
       and not exists (select 1 from journey_enrollment e where e.journey_id = $6 and e.profile_id = p.id
                       and e.context ->> 'forDate' = p.for_date::text)
     limit ${BATCH}`,
    [workspaceId, trigger.trait, trigger.offsetDays, trigger.time, now, journeyId],
  );
}

async function scheduledProfiles(
  em: EntityManager,
  workspaceId: string,
  journeyId: string,
  trigger: Extract<Trigger, { type: 'schedule' }>,
  now: Date,
): Promise<{ profile_id: string; for_date: string }[]> {
  const today = localDate(now, trigger.timeZone);
  const dayNumber = Math.floor(Date.UTC(today.year, today.month - 1, today.day) / 86_400_000);
  if (dayNumber % trigger.everyDays !== 0) return [];
  const forDate = `${today.year}-${String(today.month).padStart(2, '0')}-${String(today.day).padStart(2, '0')}`;
  return sql(
    em,
    `select p.id as profile_id, $3::text as for_date from profile p
     where p.workspace_id = $1
       and ($2::timestamptz at time zone $4)::time >= $5::time
       and ($6::text is null or exists (select 1 from segment_membership m join segment s on s.id = m.segment_id
                                        where m.profile_id = p.id and s.key = $6))
       and not exists (select 1 from journey_enrollment e where e.journey_id = $7 and e.profile_id = p.id
                       and e.context ->> 'forDate' = $3)
     limit ${BATCH}`,
    [workspaceId, now, forDate, trigger.timeZone, trigger.at, trigger.segment ?? null, journeyId],
  );
}
