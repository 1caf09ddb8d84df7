import { sql } from '../../db/sql.ts';
import type { DataSubjectContext } from '../../kernel/plugin.ts';

/** GDPR export: the person's customer sessions (never their tokens, which are stored only hashed). */
export async function exportCustomerSessions(
  _profileId: string,
  ctx: DataSubjectContext,
): Promise<Record<string, unknown>> {
  const sessions = await sql(
    ctx.em,
    `select id, issued_by as "issuedBy", inbox_id as "inboxId", identities, created_at as "createdAt",
       expires_at as "expiresAt", last_used_at as "lastUsedAt", revoked_at as "revokedAt"
     from customer_session where workspace_id = $1 and profile_id = any($2::uuid[]) order by created_at`,
    [ctx.workspaceId, ctx.profileIds],
  );
  return { sessions };
}

/** GDPR erasure: the person's sessions go, so their tokens stop working in the same commit. */
export async function eraseCustomerSessions(_profileId: string, ctx: DataSubjectContext): Promise<number> {
  const gone = await sql(
    ctx.em,
    `delete from customer_session where workspace_id = $1 and profile_id = any($2::uuid[]) returning id`,
    [ctx.workspaceId, ctx.profileIds],
  );
  return gone.length;
}
