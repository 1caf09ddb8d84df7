import type { EventSubscription } from '@atrium/core';
import type { AssistantConfig } from './config.ts';
import { forgetMemories, MEMORY_PURPOSE } from './memory.ts';
import { queueConversationAnswer } from './service.ts';

/** A customer wrote: queue the assistant's answer in the same transaction (no LLM call here). */
export const answerReceivedMessages: EventSubscription<AssistantConfig> = {
  on: 'conversation.message-received',
  name: 'answer',
  handle: async (event, ctx) => {
    if (!ctx.config.answerConversations) return;
    const payload = event.payload as { conversationId?: string; messageId?: string };
    if (!payload.conversationId || !payload.messageId) return;
    await queueConversationAnswer(ctx.em, ctx.jobs, {
      workspaceId: event.workspaceId,
      conversationId: payload.conversationId,
      messageId: payload.messageId,
    });
  },
};

/** `ai_memory` withdrawn: what the assistant remembered about the person goes, in the same delivery. */
export const forgetOnConsentWithdrawn: EventSubscription<AssistantConfig> = {
  on: 'consent.changed',
  name: 'forget-memory',
  handle: async (event, ctx) => {
    const payload = event.payload as { profileId?: string; purpose?: string; granted?: boolean };
    if (payload.purpose !== MEMORY_PURPOSE || payload.granted !== false || !payload.profileId) return;
    await forgetMemories(ctx.em, event.workspaceId, payload.profileId, null);
  },
};
