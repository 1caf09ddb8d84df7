import { sql } from '../../db/sql.ts';
import type { DataSubjectContext } from '../../kernel/plugin.ts';

/** GDPR export: every conversation of the person, with its messages, assignments and handoffs. */
export async function exportConversations(
  _profileId: string,
  ctx: DataSubjectContext,
): Promise<Record<string, unknown>> {
  const conversations = await sql(
    ctx.em,
    `select c.id, c.status, c.channels, c.tags, c.language, c.created_at as "createdAt", c.resolved_at as "resolvedAt",
       (select coalesce(json_agg(json_build_object('id', m.id, 'direction', m.direction, 'author', m.author,
          'channel', m.channel, 'text', m.text, 'parts', m.parts, 'attachments', m.attachments,
          'status', m.status, 'createdAt', m.created_at) order by m.created_at), '[]')
        from message m where m.conversation_id = c.id and not m.internal) as messages,
       (select coalesce(json_agg(json_build_object('reason', h.reason, 'summary', h.summary,
          'createdAt', h.created_at) order by h.created_at), '[]')
        from conversation_handoff h where h.conversation_id = c.id) as handoffs
     from conversation c where c.workspace_id = $1 and c.profile_id = any($2::uuid[]) order by c.created_at`,
    [ctx.workspaceId, ctx.profileIds],
  );
  return { conversations };
}

/**
 * GDPR erasure: the person's conversations go whole (messages, internal notes about them,
 * assignments and handoffs cascade). Queued sends then find no message and send nothing.
 */
export async function eraseConversations(_profileId: string, ctx: DataSubjectContext): Promise<number> {
  const gone = await sql(
    ctx.em,
    `with c as (delete from conversation where workspace_id = $1 and profile_id = any($2::uuid[]) returning id)
     select count(*)::int as n from c`,
    [ctx.workspaceId, ctx.profileIds],
  );
  return (gone[0] as { n: number }).n;
}
