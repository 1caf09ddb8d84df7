import { defineEntity, p } from '@mikro-orm/postgresql';
import { createdAtColumn, idColumn } from '../../db/columns.ts';
import { ChannelInbox } from '../conversations/entities.ts';
import type { IdentityType } from '../profiles/entities.ts';
import { belongsToWorkspace } from '../workspaces/entities.ts';

/** An identity a customer session vouches for: given at its start, or proven later (identify). */
export interface SessionIdentity {
  type: IdentityType;
  value: string;
}

/**
 * A customer talking for themself (a web chat visitor, a self-service flow): an opaque bearer
 * token (`cst_…`, only its SHA-256 hash is stored) bound to a workspace and the profile it
 * acts as. Ends when revoked (logout) or when it expires.
 */
export const CustomerSession = defineEntity({
  name: 'CustomerSession',
  tableName: 'customer_session',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    /**
     * No foreign key, as for conversations: a profile merge deletes the merged profile, and the
     * session then follows the survivor (the `profile.merged` handler, or `profile_merge` on use).
     */
    profileId: p.uuid(),
    tokenHash: p.string().length(64).unique().hidden(),
    /** The module or plugin that opened it, e.g. `channel-webchat`. */
    issuedBy: p.string().length(100),
    /** The inbox the customer writes through, for channel sessions; sessions end with their inbox. */
    inbox: () => p.manyToOne(ChannelInbox).mapToPk().nullable().deleteRule('cascade'),
    identities: p.json<SessionIdentity[]>().default('[]'),
    createdAt: createdAtColumn(),
    expiresAt: p.datetime(),
    lastUsedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
  },
  indexes: [{ properties: ['workspace', 'profileId'] }, { properties: ['expiresAt'] }],
});
export type CustomerSessionEntity = InstanceType<typeof CustomerSession.class>;
