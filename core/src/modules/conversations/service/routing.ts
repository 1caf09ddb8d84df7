import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import {
  Agent,
  Assignment,
  type AssignmentReason,
  Conversation,
  type ConversationEntity,
  Message,
  type MessageEntity,
  RoutingRule,
  type RoutingRuleEntity,
} from '../entities.ts';
import { morePressing, statusEventType } from './conversations.ts';

/** Why routing ran, and who or what asked for it. */
export interface RoutingRequest {
  reason: Extract<AssignmentReason, 'rule' | 'handoff'>;
  /** Who asked: a plugin's name for a handoff, null for automatic routing. */
  actor?: string | null;
  /** Shown in the assignment trail (a handoff's source and reason). */
  detail?: string | null;
}

/** What routing decided; `assignment` is null when nothing changed. */
export interface RoutingOutcome {
  conversation: ConversationEntity;
  rule: RoutingRuleEntity | null;
  assignment: InstanceType<typeof Assignment.class> | null;
}

/**
 * Routes a conversation: the first enabled rule (by position) that matches its channels,
 * language, the profile's segments and its intent names a team, required skills and a priority;
 * then the least-loaded available agent of that team (every agent when no rule names a team)
 * who has every required skill, speaks the conversation's language (when the agent lists
 * languages) and is under `maxOpen` takes it. When nobody is free it waits with the team,
 * unassigned. A change of team or assignee writes an Assignment and `conversation.assigned`.
 */
export function routeConversation(
  em: EntityManager,
  conversationId: string,
  request: RoutingRequest,
): Promise<RoutingOutcome> {
  return em.transactional(async (tx) => {
    const conversation = await tx.findOne(
      Conversation,
      { id: conversationId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (!conversation) throw new NotFoundError('the conversation');
    // Automatic routing never takes a conversation away from an agent who holds it.
    const held = request.reason === 'rule' && conversation.assignee;
    if (conversation.mergedInto || conversation.status === 'resolved' || held) {
      return { conversation, rule: null, assignment: null };
    }
    // One routing decision at a time per workspace, so that two conversations cannot both take an
    // agent's last free slot.
    await sql(tx, `select pg_advisory_xact_lock(hashtextextended('routing' || $1, 0))`, [
      conversation.workspace,
    ]);
    const rule = await matchingRule(tx, conversation);
    const team = rule?.team ?? conversation.team ?? null;
    if (rule?.priority) {
      // Rules set the priority; after a handoff they only raise it.
      const keep = request.reason === 'handoff' && morePressing(conversation.priority, rule.priority);
      if (!keep) conversation.priority = rule.priority;
    }
    const agent = await freeAgent(tx, conversation, team, rule?.requiredSkills ?? []);
    const assignment = await changeHands(tx, conversation, {
      assignee: agent,
      team,
      reason: request.reason,
      detail: request.detail ?? (rule ? `rule "${rule.name}"` : 'no rule matched'),
      assignedBy: request.actor ?? null,
    });
    return { conversation, rule, assignment };
  });
}

async function matchingRule(
  em: EntityManager,
  conversation: ConversationEntity,
): Promise<RoutingRuleEntity | null> {
  const rules = await em.find(
    RoutingRule,
    { workspace: conversation.workspace, enabled: true },
    { orderBy: { position: 'asc', createdAt: 'asc' } },
  );
  if (!rules.length) return null;
  const segments = rules.some((r) => r.match.segments?.length)
    ? new Set(
        (
          await sql<{ key: string }>(
            em,
            `select s.key from segment_membership m join segment s on s.id = m.segment_id
             where m.workspace_id = $1 and m.profile_id = $2`,
            [conversation.workspace, conversation.profileId],
          )
        ).map((r) => r.key),
      )
    : new Set<string>();
  const language = primaryLanguage(conversation.language);
  const listed = (values: string[] | undefined) => (values?.length ? values : null);
  return (
    rules.find((rule) => {
      const { channels, languages, segments: keys, intents } = rule.match;
      if (listed(channels) && !channels?.some((c) => conversation.channels.includes(c))) return false;
      if (listed(languages) && !(language && languages?.some((l) => primaryLanguage(l) === language)))
        return false;
      if (listed(keys) && !keys?.some((k) => segments.has(k))) return false;
      if (listed(intents) && !(conversation.intent && intents?.includes(conversation.intent))) return false;
      return true;
    }) ?? null
  );
}

/** `de-CH` → `de`: rules and agents speak in primary language tags. */
export function primaryLanguage(tag: string | null | undefined): string | null {
  const primary = tag?.trim().toLowerCase().split(/[-_]/)[0];
  return primary || null;
}

/** The subject of the least-loaded agent who can take the conversation, or null. */
async function freeAgent(
  em: EntityManager,
  conversation: ConversationEntity,
  team: string | null,
  skills: string[],
): Promise<string | null> {
  // Load counts open and pending conversations; ties go to whoever got one least recently.
  const [row] = await sql<{ subject: string }>(
    em,
    `select a.subject from (
       select a.subject, a.max_open,
         (select count(*) from conversation c where c.workspace_id = a.workspace_id and c.assignee = a.subject
            and c.status in ('open', 'pending') and c.merged_into is null and c.id <> $5) as load,
         (select max(s.created_at) from conversation_assignment s
            where s.workspace_id = a.workspace_id and s.assignee = a.subject) as last_assigned
       from conversation_agent a
       where a.workspace_id = $1 and a.available
         and ($2::text is null or $2 = any(a.teams))
         and a.skills @> $3::text[]
         and ($4::text is null or cardinality(a.languages) = 0
              or $4 = any(array(select lower(split_part(l, '-', 1)) from unnest(a.languages) l)))
     ) a
     where a.load < a.max_open
     order by a.load, a.last_assigned nulls first, a.subject
     limit 1`,
    [conversation.workspace, team, skills, primaryLanguage(conversation.language), conversation.id],
  );
  return row?.subject ?? null;
}

/** Records a change of hands; nothing when neither assignee nor team changes. */
async function changeHands(
  em: EntityManager,
  conversation: ConversationEntity,
  change: {
    assignee: string | null;
    team: string | null;
    reason: AssignmentReason;
    detail: string | null;
    assignedBy: string | null;
  },
): Promise<InstanceType<typeof Assignment.class> | null> {
  const previous = { assignee: conversation.assignee ?? null, team: conversation.team ?? null };
  if (previous.assignee === change.assignee && previous.team === change.team) {
    await em.flush();
    return null;
  }
  conversation.assignee = change.assignee;
  conversation.team = change.team;
  const assignment = em.create(Assignment, {
    workspace: conversation.workspace,
    conversation: conversation.id,
    assignee: change.assignee,
    team: change.team,
    reason: change.reason,
    detail: change.detail?.slice(0, 500) ?? null,
    assignedBy: change.assignedBy,
  });
  await em.flush();
  recordEvent(em, {
    type: 'conversation.assigned',
    workspaceId: conversation.workspace,
    subject: conversation.id,
    payload: {
      conversationId: conversation.id,
      profileId: conversation.profileId,
      assignee: change.assignee,
      team: change.team,
      previousAssignee: previous.assignee,
      previousTeam: previous.team,
      reason: change.reason,
      assignedBy: change.assignedBy,
    },
  });
  return assignment;
}

/**
 * An agent takes, gives or drops a conversation. `assignee` must be a registered agent (or
 * the caller, who may always take a conversation); null unassigns. `team` undefined keeps it.
 */
export function assignConversation(
  em: EntityManager,
  conversationId: string,
  input: { assignee: string | null; team?: string | null; actor: string },
): Promise<ConversationEntity> {
  return em.transactional(async (tx) => {
    const conversation = await tx.findOne(
      Conversation,
      { id: conversationId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (!conversation) throw new NotFoundError('the conversation');
    if (conversation.mergedInto) {
      throw new ValidationError('this conversation was merged into another; assign that one', 'id');
    }
    const assignee = input.assignee?.trim() || null;
    if (assignee && assignee !== input.actor && !(await tx.findOne(Agent, { subject: assignee }))) {
      throw new ValidationError(`no agent "${assignee}" is registered in this workspace`, 'assignee');
    }
    const team = input.team === undefined ? (conversation.team ?? null) : input.team?.trim() || null;
    if (team && team.length > 100) throw new ValidationError('team must be at most 100 characters', 'team');
    await changeHands(tx, conversation, {
      assignee,
      team,
      reason: 'manual',
      detail: null,
      assignedBy: input.actor,
    });
    return conversation;
  });
}

/**
 * Stores what classification (agent assist, the assistant) found in a message. An inbound
 * message's intent becomes the conversation's, and a conversation nobody holds yet is routed
 * again, since rules may match on intent.
 */
export function classifyMessage(
  em: EntityManager,
  messageId: string,
  input: { intent?: string | null; sentiment?: number | null },
): Promise<{ message: MessageEntity; routing: RoutingOutcome | null }> {
  return em.transactional(async (tx) => {
    const message = await tx.findOne(Message, { id: messageId });
    if (!message) throw new NotFoundError('the message');
    const intent = input.intent?.trim().toLowerCase() || null;
    if (intent && !/^[a-z0-9][a-z0-9:._-]{0,99}$/.test(intent)) {
      throw new ValidationError('intent must be 1 to 100 letters, digits, ":", ".", "_" or "-"', 'intent');
    }
    const sentiment = input.sentiment ?? null;
    if (sentiment !== null && !(sentiment >= -1 && sentiment <= 1)) {
      throw new ValidationError('sentiment must be between -1 (negative) and 1 (positive)', 'sentiment');
    }
    if (intent) message.intent = intent;
    if (sentiment !== null) message.sentiment = sentiment;
    const conversation = await tx.findOneOrFail(Conversation, { id: message.conversation });
    const changed = intent && message.direction === 'inbound' && conversation.intent !== intent;
    if (changed) conversation.intent = intent;
    await tx.flush();
    const routing =
      changed && !conversation.assignee
        ? await routeConversation(tx, conversation.id, { reason: 'rule', detail: null })
        : null;
    return { message, routing };
  });
}

/**
 * Reopens snoozed conversations whose time has come, across workspaces (the periodic job has no
 * workspace of its own): each one gets `conversation.reopened`.
 */
export async function wakeSnoozedConversations(
  em: EntityManager,
  now = new Date(),
): Promise<{ id: string; workspaceId: string }[]> {
  return em.transactional(async (tx) => {
    const woken = await sql<{ id: string; workspace_id: string; profile_id: string }>(
      tx,
      `update conversation set status = 'open', snoozed_until = null, updated_at = now()
       where id in (select id from conversation where status = 'snoozed' and snoozed_until <= $1
                    order by snoozed_until limit 1000 for update skip locked)
       returning id, workspace_id, profile_id`,
      [now],
    );
    for (const row of woken) {
      recordEvent(tx, {
        type: statusEventType('open'),
        workspaceId: row.workspace_id,
        subject: row.id,
        payload: { conversationId: row.id, profileId: row.profile_id, previous: 'snoozed', actor: 'snooze' },
      });
    }
    return woken.map((row) => ({ id: row.id, workspaceId: row.workspace_id }));
  });
}
