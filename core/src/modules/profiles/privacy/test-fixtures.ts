// Fixtures the privacy tests share: profiles made by identity resolution, events written raw
// (until the ingestion API is what tests use), and relay ids.
import type { EntityManager } from '@mikro-orm/postgresql';
import { WORKSPACE_FILTER } from '../../../db/orm.ts';
import { sql } from '../../../db/sql.ts';
import type { TestEnvironment } from '../../../testing/index.ts';
import type { EventType } from '../entities.ts';
import { type IdentityKey, normaliseIdentity } from '../service/identities.ts';
import { defaultIdentityRules } from '../service/identity-rules.ts';
import { resolveProfiles } from '../service/resolution.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

export const identity = (type: IdentityKey['type'], value: string) => normaliseIdentity(type, value);

export function scopedEm(env: TestEnvironment, workspaceId: string): EntityManager {
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  return em;
}

/** Resolves the sightings in order, as ingestion would, and returns the profile of the last one. */
export async function profileOf(
  env: TestEnvironment,
  workspaceId: string,
  ...sightings: IdentityKey[][]
): Promise<string> {
  const resolution = await env.atrium.orm.em.fork().transactional((em) =>
    resolveProfiles(
      em,
      workspaceId,
      sightings.map((keys, i) => ({ keys, at: new Date(), source: `message f${i}` })),
      defaultIdentityRules,
    ),
  );
  return resolution.profileIds.at(-1) as string;
}

export interface EventFixture {
  type?: EventType;
  name?: string;
  /** When it happened, in days before now. */
  daysAgo?: number;
  /** When it arrived, in days before now; defaults to `daysAgo`. */
  receivedDaysAgo?: number;
  userId?: string;
  anonymousId?: string;
  traits?: Record<string, unknown>;
  properties?: Record<string, unknown>;
}

export async function insertEvents(
  env: TestEnvironment,
  workspaceId: string,
  profileId: string,
  events: EventFixture[],
): Promise<void> {
  const em = env.em();
  for (const e of events) {
    const at = new Date(Date.now() - (e.daysAgo ?? 0) * DAY_MS);
    const received = new Date(Date.now() - (e.receivedDaysAgo ?? e.daysAgo ?? 0) * DAY_MS);
    await sql(
      em,
      `insert into event (id, workspace_id, profile_id, message_id, type, name, user_id, anonymous_id,
         properties, traits, context, channel, timestamp, received_at)
       values (gen_random_uuid(), $1, $2, gen_random_uuid()::text, $3, $4, $5, $6, $7::jsonb, $8::jsonb,
         '{}', 'server', $9, $10)`,
      [
        workspaceId,
        profileId,
        e.type ?? 'track',
        e.name ?? ((e.type ?? 'track') === 'track' ? 'Order Completed' : null),
        e.userId ?? null,
        e.anonymousId ?? null,
        JSON.stringify(e.properties ?? {}),
        JSON.stringify(e.traits ?? {}),
        at,
        received,
      ],
    );
  }
}

export const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
