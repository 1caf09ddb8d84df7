import { defineChannel } from '@atrium/core';
import { type VisitorMessageNotice, visitorTopic } from './live.ts';
import { WEBCHAT } from './service.ts';
import { parseInboxSettings } from './settings.ts';

/**
 * Web chat: the visitor's browser holds the session, so "delivering" is a live notice to the
 * visitor's stream; the core has stored the message already, and a visitor who is away reads
 * it when they come back. No address (the session is the address), no marketing (no consent
 * purpose: the core refuses marketing sends), typing yes, plain text only.
 */
export const webchatChannel = defineChannel({
  code: WEBCHAT,
  label: 'Web chat',
  args: {},
  capabilities: { typing: true, richText: false, attachments: false, templates: false },
  addressType: null,
  inboxSettings: (settings) => ({ ...parseInboxSettings(settings) }),
  fn: async (message, ctx) => {
    const notice: VisitorMessageNotice = {
      kind: 'message',
      conversationId: message.conversationId,
      messageId: message.id,
    };
    await ctx.live.publish(visitorTopic(message.profileId), { ...notice });
    return { providerMessageId: `webchat:${message.id}` };
  },
});
