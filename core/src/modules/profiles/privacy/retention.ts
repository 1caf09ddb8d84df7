import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { type EventType, eventTypes, RetentionPolicy, type RetentionPolicyEntity } from '../entities.ts';

/** Ingestion dedupes `messageId` for 7 days: an event must outlive that window. */
export const MIN_RETENTION_DAYS = 7;
export const MAX_RETENTION_DAYS = 36_500;
/** The policy for every event type without a policy of its own. */
export const ANY_EVENT_TYPE = '*';

const DAY_MS = 24 * 60 * 60 * 1000;

function checkEventType(eventType: string): EventType | typeof ANY_EVENT_TYPE {
  if (eventType === ANY_EVENT_TYPE || (eventTypes as readonly string[]).includes(eventType)) {
    return eventType as EventType | typeof ANY_EVENT_TYPE;
  }
  throw new ValidationError(
    `unknown event type "${eventType}"; use one of ${eventTypes.join(', ')} or "*" for every other type`,
    'eventType',
  );
}

export function retentionPoliciesOf(
  em: EntityManager,
  workspaceId: string,
): Promise<RetentionPolicyEntity[]> {
  return em.find(
    RetentionPolicy,
    { workspace: workspaceId },
    { filters: false, orderBy: { eventType: 'asc' } },
  );
}

/** Creates or changes the policy of an event type (or '*'). */
export async function setRetentionPolicy(
  em: EntityManager,
  workspaceId: string,
  input: { eventType: string; days: number },
): Promise<RetentionPolicyEntity> {
  const eventType = checkEventType(input.eventType);
  if (!Number.isInteger(input.days) || input.days < MIN_RETENTION_DAYS || input.days > MAX_RETENTION_DAYS) {
    throw new ValidationError(
      `days must be a whole number from ${MIN_RETENTION_DAYS} (ingestion dedupes messageId for ${MIN_RETENTION_DAYS} days) to ${MAX_RETENTION_DAYS}`,
      'days',
    );
  }
  return em.transactional(async (tem) => {
    await sql(
      tem,
      `insert into retention_policy (id, workspace_id, event_type, days, created_at, updated_at)
       values (gen_random_uuid(), $1, $2, $3, now(), now())
       on conflict (workspace_id, event_type) do update set days = excluded.days, updated_at = now()`,
      [workspaceId, eventType, input.days],
    );
    return tem.findOneOrFail(
      RetentionPolicy,
      { workspace: workspaceId, eventType },
      { filters: false, refresh: true },
    );
  });
}

export async function removeRetentionPolicy(
  em: EntityManager,
  workspaceId: string,
  eventType: string,
): Promise<void> {
  const checked = checkEventType(eventType);
  const gone = await sql(
    em,
    'delete from retention_policy where workspace_id = $1 and event_type = $2 returning id',
    [workspaceId, checked],
  );
  if (!gone.length) throw new NotFoundError('Retention policy');
}

export interface RetentionOutcome {
  /** Events deleted per type, over every workspace the run covered. */
  deleted: Partial<Record<EventType, number>>;
  total: number;
}

/**
 * Deletes events older than their type's policy, in batches of `batchSize` so that no
 * statement holds many locks for long; each batch commits on its own. An event goes when it
 * happened before the cutoff *and* was received before it, so a late-arriving old event still
 * lives through the 7-day `messageId` dedupe window. One workspace, or every workspace with
 * policies when `workspaceId` is omitted (the scheduled run).
 */
export async function applyRetention(
  em: EntityManager,
  options: { workspaceId?: string; batchSize?: number; now?: Date; signal?: AbortSignal } = {},
): Promise<RetentionOutcome> {
  const batchSize = options.batchSize ?? 5000;
  const now = options.now ?? new Date();
  const policies = await sql<{ workspace_id: string; event_type: string; days: number }>(
    em,
    `select workspace_id, event_type, days from retention_policy
     where ($1::uuid is null or workspace_id = $1) order by workspace_id`,
    [options.workspaceId ?? null],
  );
  const byWorkspace = new Map<string, Map<string, number>>();
  for (const p of policies) {
    const days = byWorkspace.get(p.workspace_id) ?? new Map<string, number>();
    days.set(p.event_type, p.days);
    byWorkspace.set(p.workspace_id, days);
  }

  const outcome: RetentionOutcome = { deleted: {}, total: 0 };
  for (const [workspaceId, days] of byWorkspace) {
    for (const type of eventTypes) {
      const keep = days.get(type) ?? days.get(ANY_EVENT_TYPE);
      if (keep === undefined) continue;
      const cutoff = new Date(now.getTime() - Math.max(keep, MIN_RETENTION_DAYS) * DAY_MS);
      let batch = batchSize;
      while (batch === batchSize) {
        options.signal?.throwIfAborted();
        const [row] = await sql<{ n: number }>(
          em,
          `with doomed as (
             select id from event
             where workspace_id = $1 and type = $2 and timestamp < $3 and received_at < $3
             limit $4 for update skip locked),
           gone as (delete from event e using doomed where e.id = doomed.id returning 1)
           select count(*)::int as n from gone`,
          [workspaceId, type, cutoff, batchSize],
        );
        batch = row?.n ?? 0;
        outcome.deleted[type] = (outcome.deleted[type] ?? 0) + batch;
        outcome.total += batch;
      }
    }
  }
  return outcome;
}
