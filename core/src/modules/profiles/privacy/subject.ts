import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError } from '../../../kernel/errors.ts';
import type { DataSubjectScope } from '../../../kernel/plugin.ts';
import type { IdentityType } from '../entities.ts';

/** The person behind a profile, as export and erasure look for them across every store. */
export interface DataSubject extends Omit<DataSubjectScope, 'em' | 'workspaceId'> {
  profileId: string;
  identities: { type: IdentityType; value: string }[];
  /** Unquoted forms of `mentions`: what a free-text field must not contain. */
  plainMentions: string[];
}

/**
 * User and anonymous ids shorter than this are left out of `mentions`: "42" in some other
 * document is far more likely someone else's value than this person's. E-mail addresses and
 * phone numbers are distinctive by their shape and always count.
 */
const MIN_ID_MENTION = 8;

/**
 * Finds the profile in the workspace (NotFound otherwise), the profiles merged into it earlier
 * and its identities. `lock` takes the profile row for an erasure: merges, consent decisions
 * and event inserts (their foreign key) wait until it commits. An export reads a snapshot and
 * locks nothing.
 */
export async function findDataSubject(
  em: EntityManager,
  workspaceId: string,
  profileId: string,
  options: { lock: boolean },
): Promise<DataSubject> {
  const lock = options.lock ? 'for update' : '';
  const [profile] = await sql(em, `select id from profile where workspace_id = $1 and id = $2 ${lock}`, [
    workspaceId,
    profileId,
  ]);
  if (!profile) throw new NotFoundError('Profile');
  const merged = await sql<{ id: string }>(
    em,
    'select merged_profile_id as id from profile_merge where workspace_id = $1 and survivor_id = $2',
    [workspaceId, profileId],
  );
  const identities = await sql<{ type: IdentityType; value: string }>(
    em,
    'select type, value from identity where workspace_id = $1 and profile_id = $2 order by type, value',
    [workspaceId, profileId],
  );
  const profileIds = [profileId, ...merged.map((m) => m.id).filter((id) => id !== profileId)];
  const values = identities
    .filter((i) => i.type === 'email' || i.type === 'phone' || i.value.length >= MIN_ID_MENTION)
    .map((i) => i.value.toLowerCase());
  return {
    profileId,
    profileIds,
    identities,
    mentions: [...profileIds, ...values.map((v) => JSON.stringify(v))],
    plainMentions: [...profileIds, ...values],
  };
}

/** SQL condition: `column`'s text mentions one of the strings in parameter `$n` (a text[]). */
export function mentionsCondition(column: string, param: number): string {
  return `exists (select 1 from unnest($${param}::text[]) m where strpos(lower(${column}::text), m) > 0)`;
}
