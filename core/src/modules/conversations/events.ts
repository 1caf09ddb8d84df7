import { WORKSPACE_FILTER } from '../../db/orm.ts';
import type { EventSubscription } from '../../kernel/plugin.ts';
import { Conversation } from './entities.ts';
import { adoptMergedProfile } from './service/conversations.ts';
import { conversationNotices, publishNotices } from './service/messages.ts';
import { routeConversation } from './service/routing.ts';

/**
 * A profile merge moves the merged profile's conversations to the survivor and joins live threads;
 * a new conversation is routed to a team and an agent.
 */
export const conversationEvents: EventSubscription[] = [
  {
    on: 'profile.merged',
    name: 'conversations.adopt-merged-profile',
    handle: async (event, ctx) => {
      const { survivorId, mergedProfileId } = event.payload as {
        survivorId: string;
        mergedProfileId: string;
      };
      ctx.em.setFilterParams(WORKSPACE_FILTER, { id: event.workspaceId });
      await adoptMergedProfile(ctx.em, event.workspaceId, survivorId, mergedProfileId);
    },
  },
  {
    on: 'conversation.opened',
    name: 'conversations.route-opened',
    handle: async (event, ctx) => {
      ctx.em.setFilterParams(WORKSPACE_FILTER, { id: event.workspaceId });
      const { conversationId } = event.payload as { conversationId: string };
      // Erased or merged away before the handler ran: nothing to route.
      await routeConversation(ctx.em, conversationId, { reason: 'rule' }).catch((error) => {
        if ((error as { code?: string }).code !== 'NOT_FOUND') throw error;
      });
    },
  },
  {
    // Routing and handoffs run in transactions that cannot publish before they commit (an event
    // handler's): this handler comes after. Agents' own changes publish their notices directly.
    on: ['conversation.assigned', 'conversation.handed-off'],
    name: 'conversations.announce-routing',
    handle: async (event, ctx) => {
      const { conversationId, reason } = event.payload as { conversationId: string; reason?: string };
      if (event.type === 'conversation.assigned' && reason !== 'rule') return;
      ctx.em.setFilterParams(WORKSPACE_FILTER, { id: event.workspaceId });
      const conversation = await ctx.em.findOne(Conversation, { id: conversationId });
      if (conversation) await publishNotices(ctx.live, conversationNotices(conversation), ctx.logger);
    },
  },
];
