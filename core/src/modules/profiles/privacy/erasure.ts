import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import type { DataSubjectHooks } from '../../../kernel/plugin.ts';
import { ErasureRecord, type ErasureRecordEntity } from '../entities.ts';
import { findDataSubject, mentionsCondition } from './subject.ts';

export interface ErasureRequest {
  /** Who asked: the admin's subject. Kept in the tombstone. */
  requestedBy: string;
  /** Why, for the audit trail; it must not name the person. */
  reason?: string | null;
}

/** pg-boss's schema (the default our `Jobs` wrapper keeps). */
const JOB_TABLE = 'pgboss.job';

/**
 * Erases a profile (GDPR art. 17) in one transaction: its events, identities, consents and
 * their history, segment memberships, merge records, the outbox events (and their deliveries)
 * that name it, queued jobs that carry its id, every module's rows through its `eraseProfile`
 * hook, and the profile itself. What stays is a tombstone with counts only, and a
 * `profile.erased` event that carries the tombstone's id, never the profile's.
 */
export async function eraseProfile(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
  request: ErasureRequest,
  hooks: readonly DataSubjectHooks[],
): Promise<ErasureRecordEntity> {
  const requestedBy = request.requestedBy.trim().slice(0, 200) || 'unknown';
  const reason = request.reason?.trim() || null;
  if (reason && reason.length > 1000)
    throw new ValidationError('reason must be at most 1000 characters', 'reason');

  return em.transactional(async (tem) => {
    const subject = await findDataSubject(tem, workspaceId, profileId, { lock: true });
    const lowered = reason?.toLowerCase() ?? '';
    if (subject.plainMentions.some((m) => lowered.includes(m))) {
      throw new ValidationError(
        'reason must not name the person (an id, e-mail address or phone number): the tombstone keeps no personal data',
        'reason',
      );
    }
    const ids = subject.profileIds;
    const removed: Record<string, number> = {};
    const count = async (key: string, text: string, params: unknown[]) => {
      const [row] = await sql<{ n: number }>(
        tem,
        `with gone as (${text} returning 1) select count(*)::int as n from gone`,
        params,
      );
      removed[key] = (removed[key] ?? 0) + (row?.n ?? 0);
    };
    const byProfile = [workspaceId, ids];

    await count(
      'event',
      'delete from event where workspace_id = $1 and profile_id = any($2::uuid[])',
      byProfile,
    );
    await count(
      'identity',
      'delete from identity where workspace_id = $1 and profile_id = any($2::uuid[])',
      byProfile,
    );
    await count(
      'consent',
      'delete from consent where workspace_id = $1 and profile_id = any($2::uuid[])',
      byProfile,
    );
    await count(
      'consent_change',
      'delete from consent_change where workspace_id = $1 and profile_id = any($2::uuid[])',
      byProfile,
    );
    await count(
      'segment_membership',
      'delete from segment_membership where workspace_id = $1 and profile_id = any($2::uuid[])',
      byProfile,
    );
    await count(
      'profile_merge',
      `delete from profile_merge where workspace_id = $1
         and (survivor_id = any($2::uuid[]) or merged_profile_id = any($2::uuid[]))`,
      byProfile,
    );

    // Domain events about the person: deleted with their deliveries, published or not. Handlers
    // that still had work on them learn of the erasure from `profile.erased` instead. Locking the
    // events first waits out a publisher that is adding deliveries to them right now.
    const events = await sql<{ id: string }>(
      tem,
      `select id from outbox_event
       where workspace_id = $1 and (subject = any($2::text[]) or ${mentionsCondition('payload', 3)})
       for update`,
      [workspaceId, ids, subject.mentions],
    );
    const eventIds = [events.map((e) => e.id)];
    await count('event_delivery', 'delete from event_delivery where event_id = any($1::uuid[])', eventIds);
    await count('outbox_event', 'delete from outbox_event where id = any($1::uuid[])', eventIds);

    // Jobs queued (or kept as history) by any module whose data or output carries the profile's id.
    const [jobTable] = await sql<{ t: string | null }>(tem, 'select to_regclass($1)::text as t', [JOB_TABLE]);
    if (jobTable?.t) {
      await count(
        'job',
        `delete from ${JOB_TABLE} where ${mentionsCondition('data', 1)} or ${mentionsCondition('output', 1)}`,
        [ids],
      );
    }

    for (const hook of hooks) {
      if (!hook.eraseProfile) continue;
      removed[hook.module] = await hook.eraseProfile(profileId, {
        em: tem,
        workspaceId,
        profileIds: ids,
        mentions: subject.mentions,
      });
    }
    await count('profile', 'delete from profile where workspace_id = $1 and id = any($2::uuid[])', byProfile);

    const record = tem.create(ErasureRecord, {
      workspace: workspaceId,
      requestedBy,
      reason,
      removed,
      erasedAt: new Date(),
    });
    recordEvent(tem, {
      type: 'profile.erased',
      workspaceId,
      subject: record.id,
      payload: { erasureId: record.id, removed },
    });
    return record;
  });
}
