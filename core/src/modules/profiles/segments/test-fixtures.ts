import type { MikroORM } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { recordEvent } from '../../../kernel/events.ts';
import { normaliseIdentity } from '../service/identities.ts';
import { defaultIdentityRules } from '../service/identity-rules.ts';
import { resolveProfiles } from '../service/resolution.ts';

export interface TestEvent {
  name: string;
  daysAgo?: number;
  properties?: Record<string, unknown>;
}

const DAY_MS = 86_400_000;

/**
 * Stores events for a profile as ingestion does (rows plus one `profile.events-ingested`), without
 * going through HTTP; `emit: false` leaves the outbox alone (data that exists before a segment).
 */
export async function addEvents(
  orm: MikroORM,
  workspaceId: string,
  profileId: string,
  events: TestEvent[],
  options: { emit?: boolean } = {},
): Promise<void> {
  await orm.em.fork().transactional(async (em) => {
    for (const e of events) {
      const at = new Date(Date.now() - (e.daysAgo ?? 0) * DAY_MS);
      await sql(
        em,
        `insert into event (id, workspace_id, profile_id, message_id, type, name, properties, traits, context, channel, timestamp, received_at)
         values ($1, $2, $3, $4, 'track', $5, $6::jsonb, '{}', '{}', 'server', $7, now())`,
        [
          crypto.randomUUID(),
          workspaceId,
          profileId,
          crypto.randomUUID(),
          e.name,
          JSON.stringify(e.properties ?? {}),
          at,
        ],
      );
    }
    if (options.emit !== false) {
      recordEvent(em, {
        type: 'profile.events-ingested',
        workspaceId,
        payload: { profileIds: [profileId], eventNames: [...new Set(events.map((e) => e.name))] },
      });
    }
  });
}

/** A profile known by an anonymous id, with traits and events; returns its id. */
export async function seedProfile(
  orm: MikroORM,
  workspaceId: string,
  input: { anonymousId: string; traits?: Record<string, unknown>; events?: TestEvent[]; emit?: boolean },
): Promise<string> {
  const profileId = await orm.em.fork().transactional(async (em) => {
    const resolution = await resolveProfiles(
      em,
      workspaceId,
      [{ keys: [normaliseIdentity('anonymous_id', input.anonymousId)], at: new Date(), source: 'test' }],
      defaultIdentityRules,
    );
    const id = resolution.profileIds[0] as string;
    if (input.traits)
      await sql(em, `update profile set traits = traits || $2::jsonb where id = $1`, [
        id,
        JSON.stringify(input.traits),
      ]);
    return id;
  });
  await addEvents(orm, workspaceId, profileId, input.events ?? [], { emit: input.emit });
  return profileId;
}

/** Records a consent decision as the consent service does: the row and `consent.changed`. */
export async function setConsent(
  orm: MikroORM,
  workspaceId: string,
  profileId: string,
  purpose: string,
  granted: boolean,
): Promise<void> {
  await orm.em.fork().transactional(async (em) => {
    await sql(
      em,
      `insert into consent (id, workspace_id, profile_id, purpose, granted, source, policy_version, decided_at)
       values ($1, $2, $3, $4, $5, 'test', 'v1', now())
       on conflict (profile_id, purpose) do update set granted = excluded.granted, decided_at = excluded.decided_at`,
      [crypto.randomUUID(), workspaceId, profileId, purpose, granted],
    );
    recordEvent(em, {
      type: 'consent.changed',
      workspaceId,
      subject: profileId,
      payload: { profileId, purpose, granted },
    });
  });
}
