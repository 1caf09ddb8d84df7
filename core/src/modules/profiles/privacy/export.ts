import { type EntityManager, IsolationLevel } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { recordEvent } from '../../../kernel/events.ts';
import type { DataSubjectHooks } from '../../../kernel/plugin.ts';
import { findDataSubject } from './subject.ts';

/** The version of the export document's shape; bump it when a section changes meaning. */
export const EXPORT_FORMAT = 'atrium.profile-export/1';

/**
 * Everything Atrium holds about a profile, as one JSON document (GDPR art. 15 and 20): traits
 * and computed traits, identities, every event, consents and their history, segment
 * memberships, merge records, and what each module's `exportProfile` hook contributes. Read
 * in one repeatable-read transaction, so the sections agree with each other; records an audit
 * event `profile.exported` that names neither the person nor the profile.
 */
export async function exportProfile(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
  options: { exportedBy: string; hooks: readonly DataSubjectHooks[] },
): Promise<Record<string, unknown>> {
  return em.transactional(
    async (tem) => {
      const subject = await findDataSubject(tem, workspaceId, profileId, { lock: false });
      const params = [workspaceId, profileId];
      const [profile] = await sql(
        tem,
        `select id, traits, computed_traits as "computedTraits", first_seen_at as "firstSeenAt",
           last_seen_at as "lastSeenAt", created_at as "createdAt", updated_at as "updatedAt"
         from profile where workspace_id = $1 and id = $2`,
        params,
      );
      const identities = await sql(
        tem,
        `select type, value, created_at as "createdAt" from identity
         where workspace_id = $1 and profile_id = $2 order by type, value`,
        params,
      );
      const events = await sql(
        tem,
        `select id, message_id as "messageId", type, name, user_id as "userId", anonymous_id as "anonymousId",
           properties, traits, context, channel, timestamp, sent_at as "sentAt",
           original_timestamp as "originalTimestamp", received_at as "receivedAt"
         from event where workspace_id = $1 and profile_id = $2 order by timestamp, id`,
        params,
      );
      const consents = await sql(
        tem,
        `select purpose, granted, source, policy_version as "policyVersion", decided_at as "decidedAt"
         from consent where workspace_id = $1 and profile_id = $2 order by purpose`,
        params,
      );
      const consentHistory = await sql(
        tem,
        `select purpose, granted, source, policy_version as "policyVersion", decided_at as "decidedAt"
         from consent_change where workspace_id = $1 and profile_id = $2 order by decided_at, id`,
        params,
      );
      const segments = await sql(
        tem,
        `select s.key, s.name, m.entered_at as "enteredAt"
         from segment_membership m join segment s on s.id = m.segment_id
         where m.workspace_id = $1 and m.profile_id = $2 order by s.key`,
        params,
      );
      const merges = await sql(
        tem,
        `select merged_profile_id as "mergedProfileId", reason, created_at as "createdAt"
         from profile_merge where workspace_id = $1 and survivor_id = $2 order by created_at, id`,
        params,
      );
      const modules: Record<string, Record<string, unknown>> = {};
      for (const hook of options.hooks) {
        if (!hook.exportProfile) continue;
        modules[hook.module] = await hook.exportProfile(profileId, {
          em: tem,
          workspaceId,
          profileIds: subject.profileIds,
          mentions: subject.mentions,
        });
      }
      const document = {
        format: EXPORT_FORMAT,
        exportedAt: new Date().toISOString(),
        profile,
        identities,
        events,
        consents,
        consentHistory,
        segments,
        merges,
        modules,
      };
      recordEvent(tem, {
        type: 'profile.exported',
        workspaceId,
        payload: {
          exportedBy: options.exportedBy,
          counts: {
            identities: identities.length,
            events: events.length,
            consentHistory: consentHistory.length,
            segments: segments.length,
            merges: merges.length,
          },
        },
      });
      // Dates become ISO strings here, as the document will be read.
      return JSON.parse(JSON.stringify(document)) as Record<string, unknown>;
    },
    { isolationLevel: IsolationLevel.REPEATABLE_READ },
  );
}
