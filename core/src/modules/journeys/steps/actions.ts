import { sql } from '../../../db/sql.ts';
import { AtriumError } from '../../../kernel/errors.ts';
import { ChannelInbox, type MessagePart } from '../../conversations/entities.ts';
import { conversationDependencies } from '../../conversations/levels.ts';
import { sendMessage } from '../../conversations/service/messages.ts';
import { renderTemplate } from '../../conversations/service/templates.ts';
import { ConsentRequiredError } from '../../profiles/privacy/consent.ts';
import { applyTraits } from '../../profiles/service/profiles.ts';
import { inLocalWindow, nextLocalTime } from '../engine/clock.ts';
import { ChannelPolicy } from '../entities.ts';
import { defineStep } from './step.ts';

/**
 * Sends a message through a channel inbox, its text from a content entry (variants resolved
 * for this profile) or given directly. Goes along "sent", "blocked" (no consent: the reason is
 * logged, nothing is sent) or "capped" (the channel's frequency cap is reached); in the
 * channel's quiet hours it runs again when they end.
 */
export const sendMessageStep = defineStep({
  code: 'send-message',
  label: 'Send message',
  description: 'Sends through a channel inbox; consent, frequency caps and quiet hours apply',
  args: {
    inboxId: { type: 'string', label: 'Inbox', ui: 'inbox' },
    template: { type: 'string', label: 'Content entry key', required: false, ui: 'content-entry' },
    text: { type: 'string', label: 'Text (when no content entry)', required: false },
    locale: { type: 'string', label: 'Locale', required: false },
    purpose: {
      type: 'enum',
      label: 'Purpose',
      options: ['marketing', 'transactional'],
      default: 'marketing',
    },
    channelArgs: { type: 'json', label: 'Channel arguments', required: false },
    parts: {
      type: 'json',
      label: 'Structured parts',
      description:
        'e.g. a WhatsApp template: [{ "type": "template", "name": "order_update", "language": "de" }]',
      required: false,
    },
  },
  outcomes: () => ['sent', 'blocked', 'capped'],
  check: (args) => {
    if (args.parts !== undefined && !isPartList(args.parts)) {
      return { arg: 'parts', message: 'must be a list of objects with a "type"' };
    }
    return args.template || args.text || args.parts
      ? null
      : { arg: 'template', message: 'name a content entry, give a text or parts' };
  },
  fn: async (args, ctx) => {
    const inbox = await ctx.em.findOne(ChannelInbox, { id: args.inboxId, workspace: ctx.workspaceId });
    if (!inbox) return { outcome: 'blocked', note: 'the inbox no longer exists' };
    const policy = await ctx.em.findOne(ChannelPolicy, {
      workspace: ctx.workspaceId,
      channel: inbox.channel,
    });
    // The profile's time zone is read only when the channel has quiet hours.
    if (policy?.quietStart && policy.quietEnd) {
      const zone = await ctx.timeZone();
      if (inLocalWindow(ctx.now, policy.quietStart, policy.quietEnd, zone)) {
        return {
          retryAt: nextLocalTime(ctx.now, policy.quietEnd, zone),
          note: `quiet hours on ${inbox.channel}`,
        };
      }
    }
    if (policy && (await capReached(ctx, inbox.channel, policy))) {
      return { outcome: 'capped', note: `frequency cap on ${inbox.channel}` };
    }
    const parts = isPartList(args.parts) ? args.parts : [];
    const text = args.template
      ? (
          await renderTemplate(ctx.em, ctx.workspaceId, ctx.runtime.segmentOperators, {
            entryKey: args.template,
            locale: args.locale ?? null,
            profileId: ctx.enrollment.profileId,
            variables: ctx.enrollment.context,
          })
        ).text
      : (args.text ?? null);
    if (ctx.dryRun) {
      const what = text ? text.slice(0, 80) : parts.map((p) => p.type).join(', ');
      return { outcome: 'sent', note: `would send on ${inbox.channel}: ${what}` };
    }
    try {
      await sendMessage(ctx.em, conversationDependencies(ctx.runtime), {
        workspaceId: ctx.workspaceId,
        profileId: ctx.enrollment.profileId,
        inboxId: inbox.id,
        text,
        parts,
        args: (args.channelArgs as Record<string, unknown> | undefined) ?? {},
        purpose: args.purpose,
        author: 'system',
        authorId: `journey:${ctx.enrollment.journeyId}`,
        idempotencyKey: `journey:${ctx.idempotencyKey}`,
      });
      return { outcome: 'sent' };
    } catch (error) {
      if (error instanceof ConsentRequiredError) return { outcome: 'blocked', note: error.message };
      // No address on this channel, a disabled inbox: the journey goes on, the reason is logged.
      if (error instanceof AtriumError) return { outcome: 'blocked', note: error.message };
      throw error;
    }
  },
});

async function capReached(
  ctx: Parameters<typeof sendMessageStep.fn>[1],
  channel: string,
  policy: { maxPerDay?: number | null; maxPerWeek?: number | null },
): Promise<boolean> {
  if (policy.maxPerDay == null && policy.maxPerWeek == null) return false;
  const [row] = await sql<{ day: number; week: number }>(
    ctx.em,
    `select count(*) filter (where m.created_at > $3::timestamptz - interval '1 day')::int as day,
            count(*)::int as week
     from message m join conversation c on c.id = m.conversation_id
     where c.workspace_id = $1 and c.profile_id = $2 and m.channel = $4 and m.author = 'system'
       and m.author_id like 'journey:%' and m.created_at > $3::timestamptz - interval '7 days'`,
    [ctx.workspaceId, ctx.enrollment.profileId, ctx.now, channel],
  );
  return (
    (policy.maxPerDay != null && (row?.day ?? 0) >= policy.maxPerDay) ||
    (policy.maxPerWeek != null && (row?.week ?? 0) >= policy.maxPerWeek)
  );
}

/** Sets traits on the profile (null removes one); the change is an event like any other. */
export const updateProfileStep = defineStep({
  code: 'update-profile',
  label: 'Update profile',
  description: 'Sets or removes traits',
  args: { traits: { type: 'json', label: 'Traits ({ key: value })', ui: 'traits' } },
  outcomes: () => ['next'],
  check: (args) =>
    typeof args.traits === 'object' && args.traits !== null && !Array.isArray(args.traits)
      ? null
      : { arg: 'traits', message: 'must be an object of trait values' },
  fn: async (args, ctx) => {
    if (ctx.dryRun)
      return { outcome: 'next', note: `would set ${Object.keys(args.traits as object).join(', ')}` };
    await applyTraits(
      ctx.em,
      ctx.workspaceId,
      ctx.enrollment.profileId,
      args.traits as Record<string, unknown>,
    );
    return { outcome: 'next' };
  },
});

/** Parts as a journey author writes them: objects that name their type (the channel checks the rest). */
function isPartList(value: unknown): value is MessagePart[] {
  return (
    Array.isArray(value) &&
    value.length <= 10 &&
    value.every(
      (part) => typeof part === 'object' && part !== null && typeof (part as MessagePart).type === 'string',
    )
  );
}
