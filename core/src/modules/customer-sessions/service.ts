import { createHash, randomBytes } from 'node:crypto';
import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import type { Principal } from '../../auth/principal.ts';
import { CUSTOMER_SCOPE } from '../../auth/scopes.ts';
import { sql } from '../../db/sql.ts';
import { AtriumError, NotFoundError } from '../../kernel/errors.ts';
import type { IdentityType } from '../profiles/entities.ts';
import { type IdentityKey, normaliseIdentity } from '../profiles/service/identities.ts';
import { identityRulesOf } from '../profiles/service/identity-rules.ts';
import { resolveProfiles } from '../profiles/service/resolution.ts';
import { CustomerSession, type CustomerSessionEntity, type SessionIdentity } from './entities.ts';

/** Every session token starts with this, so that the authenticator and secret scanners know it. */
export const CUSTOMER_SESSION_PREFIX = 'cst_';

export function looksLikeCustomerSession(credential: string): boolean {
  return credential.startsWith(CUSTOMER_SESSION_PREFIX);
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A claim the session cannot take: it already speaks for someone else. */
export class CustomerSessionConflictError extends AtriumError {
  constructor(message: string) {
    super('SESSION_IDENTITY_CONFLICT', message);
  }
}

export interface OpenCustomerSession {
  workspaceId: string;
  /**
   * The visitor's anonymous id (e.g. the site's analytics id), so the chat joins what the site
   * tracked. Ignored when it already belongs to a known person: holding an anonymous id must
   * never be enough to act as someone who signed in. Absent or ignored: a fresh one is made.
   */
  anonymousId?: string | null;
  /** The module or plugin that opens it, e.g. `channel-webchat`. */
  issuedBy: string;
  inboxId?: string | null;
  ttlHours: number;
  now?: Date;
}

export interface OpenedCustomerSession {
  session: CustomerSessionEntity;
  /** The bearer token; shown once, only its hash is stored. */
  token: string;
  anonymousId: string;
  /** True when the given anonymousId belonged to a known person and a fresh one was used instead. */
  anonymousIdIgnored: boolean;
}

/**
 * Opens a session for an anonymous customer, in the caller's transaction: the anonymous id
 * resolves to a profile through identity resolution (a new profile when nobody has it yet).
 */
export async function openCustomerSession(
  em: EntityManager,
  input: OpenCustomerSession,
): Promise<OpenedCustomerSession> {
  const now = input.now ?? new Date();
  let anonymousIdIgnored = false;
  let anonymousId: string | null = null;
  if (input.anonymousId != null) {
    const key = normaliseIdentity('anonymous_id', input.anonymousId, 'anonymousId');
    if (await belongsToKnownPerson(em, input.workspaceId, key)) anonymousIdIgnored = true;
    else anonymousId = key.value;
  }
  anonymousId ??= crypto.randomUUID();
  const identities: SessionIdentity[] = [{ type: 'anonymous_id', value: anonymousId }];
  const resolution = await resolveProfiles(
    em,
    input.workspaceId,
    [{ keys: identities, at: now, source: `customer session (${input.issuedBy})` }],
    await identityRulesOf(em, input.workspaceId),
  );
  const token = `${CUSTOMER_SESSION_PREFIX}${randomBytes(32).toString('base64url')}`;
  const session = em.create(CustomerSession, {
    workspace: input.workspaceId,
    profileId: resolution.profileIds[0] as string,
    tokenHash: hashToken(token),
    issuedBy: input.issuedBy.slice(0, 100),
    inbox: input.inboxId ?? null,
    identities,
    createdAt: now,
    expiresAt: new Date(now.getTime() + input.ttlHours * 3_600_000),
  });
  await em.flush();
  return { session, token, anonymousId, anonymousIdIgnored };
}

/** True when the anonymous id's profile also holds a user id, an e-mail address or a phone number. */
async function belongsToKnownPerson(
  em: EntityManager,
  workspaceId: string,
  key: IdentityKey,
): Promise<boolean> {
  const rows = await sql(
    em,
    `select 1 from identity a join identity o on o.profile_id = a.profile_id and o.type <> 'anonymous_id'
     where a.workspace_id = $1 and a.type = $2 and a.value = $3 limit 1`,
    [workspaceId, key.type, key.value],
  );
  return rows.length > 0;
}

export interface IdentifiedCustomer {
  session: CustomerSessionEntity;
  profileId: string;
  /** Profiles that were merged into `profileId` because of this claim. */
  mergedProfileIds: string[];
}

/**
 * Adds an identity the caller has verified (e.g. a user id whose HMAC the site's backend
 * computed) to the session, in the caller's transaction. Identity resolution joins it with the
 * session's identities: the anonymous profile merges into the known person's (the
 * `profile.merged` event then moves its conversations), and the session acts as the survivor.
 * The caller must have checked the claim: this function trusts it.
 */
export async function identifyCustomerSession(
  em: EntityManager,
  sessionId: string,
  claim: { type: Exclude<IdentityType, 'anonymous_id'>; value: string },
  now = new Date(),
): Promise<IdentifiedCustomer> {
  const session = await em.findOne(
    CustomerSession,
    { id: sessionId },
    { lockMode: LockMode.PESSIMISTIC_WRITE },
  );
  if (!session || !isActive(session, now)) throw new NotFoundError('the customer session');
  const key = normaliseIdentity(claim.type, claim.value, claim.type === 'user_id' ? 'userId' : claim.type);
  const held = session.identities.find((i) => i.type === key.type);
  if (key.type === 'user_id' && held && held.value !== key.value) {
    throw new CustomerSessionConflictError(
      'this session already speaks for another user: end it (logout) and open a new one',
    );
  }
  const identities = held?.value === key.value ? session.identities : [...session.identities, key];
  const resolution = await resolveProfiles(
    em,
    session.workspace,
    [{ keys: identities, at: now, source: `customer session ${session.id} (identify, ${session.issuedBy})` }],
    await identityRulesOf(em, session.workspace),
  );
  const profileId = resolution.profileIds[0] as string;
  const mergedProfileIds = resolution.merges.map((m) => m.mergedProfileId);
  session.profileId = profileId;
  session.identities = identities;
  await em.flush();
  // Other sessions of the merged profiles (another tab) follow at once, not only on their next use.
  if (mergedProfileIds.length) {
    await sql(
      em,
      `update customer_session set profile_id = $1 where workspace_id = $2 and profile_id = any($3::uuid[])`,
      [profileId, session.workspace, mergedProfileIds],
    );
  }
  return { session, profileId, mergedProfileIds };
}

/** Logout: the token is refused from now on. Ending an ended session changes nothing. */
export async function endCustomerSession(
  em: EntityManager,
  sessionId: string,
  now = new Date(),
): Promise<CustomerSessionEntity> {
  const session = await em.findOne(CustomerSession, { id: sessionId });
  if (!session) throw new NotFoundError('the customer session');
  session.revokedAt ??= now;
  await em.flush();
  return session;
}

export async function getCustomerSession(
  em: EntityManager,
  sessionId: string,
): Promise<CustomerSessionEntity> {
  const session = await em.findOne(CustomerSession, { id: sessionId });
  if (!session) throw new NotFoundError('the customer session');
  return session;
}

function isActive(session: CustomerSessionEntity, now: Date): boolean {
  return !session.revokedAt && session.expiresAt > now;
}

/** Why a presented session token was refused, for the 401's message. */
export type CustomerSessionRefusal = 'unknown' | 'ended' | 'expired';

/**
 * Looks a presented token up by its hash, across workspaces (the session names its workspace).
 * The profile is followed through `profile_merge`, so a session whose profile was merged away
 * acts as the survivor even before the `profile.merged` handler ran.
 */
export async function authenticateCustomerSession(
  em: EntityManager,
  token: string,
  now = new Date(),
): Promise<Principal | CustomerSessionRefusal> {
  const [row] = await sql<{
    id: string;
    workspace_id: string;
    slug: string;
    profile_id: string;
    survivor_id: string | null;
    expires_at: Date;
    revoked_at: Date | null;
    last_used_at: Date | null;
  }>(
    em,
    `select s.id, s.workspace_id, w.slug, s.profile_id, s.expires_at, s.revoked_at, s.last_used_at,
       (select m.survivor_id from profile_merge m
        where m.workspace_id = s.workspace_id and m.merged_profile_id = s.profile_id
        order by m.created_at desc limit 1) as survivor_id
     from customer_session s join workspace w on w.id = s.workspace_id
     where s.token_hash = $1`,
    [hashToken(token)],
  );
  if (!row) return 'unknown';
  if (row.revoked_at) return 'ended';
  if (new Date(row.expires_at) <= now) return 'expired';
  const profileId = row.survivor_id ?? row.profile_id;
  // Touch at most once a minute; re-point a merged-away profile once.
  const stale = !row.last_used_at || now.getTime() - new Date(row.last_used_at).getTime() > 60_000;
  if (stale || profileId !== row.profile_id) {
    await sql(em, `update customer_session set last_used_at = $2, profile_id = $3 where id = $1`, [
      row.id,
      now,
      profileId,
    ]);
  }
  return {
    kind: 'customer',
    subject: `customer-session:${row.id}`,
    workspaceSlug: row.slug,
    scopes: [CUSTOMER_SCOPE],
    profileId,
    sessionId: row.id,
  };
}

/** After a profile merge: the merged profile's sessions act as the survivor. */
export async function followMergedProfile(
  em: EntityManager,
  workspaceId: string,
  survivorId: string,
  mergedProfileId: string,
): Promise<void> {
  await sql(em, `update customer_session set profile_id = $1 where workspace_id = $2 and profile_id = $3`, [
    survivorId,
    workspaceId,
    mergedProfileId,
  ]);
}

/** Ended and expired sessions are kept a week (to answer "why was I logged out"), then removed. */
export async function pruneCustomerSessions(em: EntityManager, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - 7 * 86_400_000);
  const gone = await sql(
    em,
    `delete from customer_session where expires_at < $1 or revoked_at < $1 returning id`,
    [cutoff],
  );
  return gone.length;
}
