import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { type LiveJourney, liveJourneys, runningVersions } from '../service/catalog.ts';
import { enroll } from './enroll.ts';

interface TrackedEvent {
  id: string;
  profile_id: string;
  name: string;
  properties: Record<string, unknown>;
  timestamp: Date;
}

/**
 * New tracked events: enter event-triggered journeys (when the properties match `where`),
 * end waits for these events, count goals, and take profiles out on exit events.
 */
export async function onEventsIngested(
  em: EntityManager,
  workspaceId: string,
  payload: { profileIds: string[]; eventNames: string[]; eventIds?: string[]; eventIdsTruncated?: boolean },
  now: Date,
): Promise<void> {
  if (!payload.eventNames.length) return;
  // Without the ids (a truncated list), read the profiles' recent events of these names.
  const byProfile = payload.eventIdsTruncated || !payload.eventIds?.length;
  const events = byProfile
    ? await sql<TrackedEvent>(
        em,
        `select id, profile_id, name, properties, timestamp from event
         where workspace_id = $1 and profile_id = any($2::uuid[]) and type = 'track' and name = any($3::text[])
           and received_at > now() - interval '1 hour' order by timestamp`,
        [workspaceId, payload.profileIds, payload.eventNames],
      )
    : await sql<TrackedEvent>(
        em,
        `select id, profile_id, name, properties, timestamp from event
         where workspace_id = $1 and id = any($2::uuid[]) and type = 'track' order by timestamp`,
        [workspaceId, payload.eventIds],
      );
  if (!events.length) return;
  for (const journey of await liveJourneys(em, workspaceId)) {
    const trigger = journey.definition.trigger;
    if (trigger.type !== 'event') continue;
    for (const event of events) {
      if (event.name === trigger.event && matchesWhere(event.properties, trigger.where)) {
        await enroll(em, journey, event.profile_id, now, {
          trigger: { event: event.name, eventId: event.id },
        });
      }
    }
  }
  // Waits for an event end now; the engine picks them up on its next turn.
  await sql(
    em,
    `update journey_enrollment e set due_at = $3, woken_by = 'event', awaiting_event = null, updated_at = now()
     from unnest($2::uuid[], $4::text[]) as x(profile_id, name)
     where e.workspace_id = $1 and e.status = 'waiting' and e.profile_id = x.profile_id and e.awaiting_event = x.name`,
    [workspaceId, events.map((e) => e.profile_id), now, events.map((e) => e.name)],
  );
  for (const version of await runningVersions(em, workspaceId)) {
    await goalsAndExits(em, version, events);
  }
}

async function goalsAndExits(em: EntityManager, journey: LiveJourney, events: TrackedEvent[]): Promise<void> {
  const { goal, exit } = journey.definition;
  if (goal) {
    const hits = events.filter((e) => e.name === goal.event);
    if (hits.length) {
      await sql(
        em,
        `update journey_enrollment e set goal_at = x.at,
           status = case when $5 then 'exited' else e.status end,
           end_reason = case when $5 then 'goal reached' else e.end_reason end,
           ended_at = case when $5 then x.at else e.ended_at end,
           due_at = case when $5 then null else e.due_at end, updated_at = now()
         from unnest($3::uuid[], $4::timestamptz[]) as x(profile_id, at)
         where e.journey_id = $1 and e.version = $2 and e.profile_id = x.profile_id and e.goal_at is null
           and e.status in ('active', 'waiting') and x.at <= e.entered_at + make_interval(hours => $6)`,
        [
          journey.journeyId,
          journey.version,
          hits.map((e) => e.profile_id),
          hits.map((e) => e.timestamp),
          goal.exitOnGoal,
          goal.withinHours,
        ],
      );
    }
  }
  if (exit?.event) {
    const hits = events.filter((e) => e.name === exit.event).map((e) => e.profile_id);
    if (hits.length) await exitEnrollments(em, journey.journeyId, hits, `exit event ${exit.event}`);
  }
}

/** Ends the running enrollments of these profiles in a journey, with the reason. */
export async function exitEnrollments(
  em: EntityManager,
  journeyId: string,
  profileIds: string[],
  reason: string,
): Promise<void> {
  await sql(
    em,
    `update journey_enrollment set status = 'exited', end_reason = $3, ended_at = now(), due_at = null, updated_at = now()
     where journey_id = $1 and profile_id = any($2::uuid[]) and status in ('active', 'waiting')`,
    [journeyId, profileIds, reason],
  );
}

/** Segment changes: enter segment-triggered journeys; leave those whose exit names the segment. */
export async function onSegmentChange(
  em: EntityManager,
  workspaceId: string,
  change: 'entered' | 'exited',
  payload: { segmentKey: string; profileId: string },
  now: Date,
): Promise<void> {
  for (const journey of await liveJourneys(em, workspaceId)) {
    const trigger = journey.definition.trigger;
    if (
      trigger.type === `segment-${change}` &&
      'segment' in trigger &&
      trigger.segment === payload.segmentKey
    ) {
      await enroll(em, journey, payload.profileId, now, { trigger: { segment: payload.segmentKey, change } });
    }
  }
  if (change === 'exited') {
    for (const version of await runningVersions(em, workspaceId)) {
      if (version.definition.exit?.segmentExited === payload.segmentKey) {
        await exitEnrollments(
          em,
          version.journeyId,
          [payload.profileId],
          `left segment ${payload.segmentKey}`,
        );
      }
    }
  }
}

/** Trait changes: enter journeys triggered by a change of one of these traits. */
export async function onTraitsChanged(
  em: EntityManager,
  workspaceId: string,
  payload: { profileId: string; changed: string[] },
  now: Date,
): Promise<void> {
  for (const journey of await liveJourneys(em, workspaceId)) {
    const trigger = journey.definition.trigger;
    if (trigger.type === 'trait-changed' && payload.changed.includes(trigger.trait)) {
      await enroll(em, journey, payload.profileId, now, { trigger: { trait: trigger.trait } });
    }
  }
}

/** `where` is a flat map of property paths to the values they must equal (`{ "total": 100, "shipping.method": "express" }`). */
export function matchesWhere(
  properties: Record<string, unknown>,
  where: Record<string, unknown> | undefined,
): boolean {
  if (!where) return true;
  return Object.entries(where).every(([path, expected]) => {
    const actual = path
      .split('.')
      .reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], properties);
    return JSON.stringify(actual) === JSON.stringify(expected);
  });
}
