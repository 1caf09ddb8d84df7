import { defineModule } from '../../kernel/plugin.ts';
import { Agent, Assignment, ChannelInbox, Conversation, Handoff, Message, RoutingRule } from './entities.ts';
import { conversationEvents } from './events.ts';
import { conversationJobs } from './jobs.ts';
import { eraseConversations, exportConversations } from './privacy.ts';
import { channelWebhookRoutes } from './routes/webhooks.ts';
import { configurationSchema } from './schema/configuration.ts';
import { conversationsSchema } from './schema/conversations.ts';
import { liveSchema } from './schema/live.ts';
import { conversationTypes } from './schema/types.ts';

/** One omnichannel thread per customer: channels write into it, agents and bots answer from it. */
export const conversationsModule = defineModule({
  name: 'conversations',
  entities: [ChannelInbox, Conversation, Message, Agent, RoutingRule, Assignment, Handoff],
  events: conversationEvents,
  jobs: conversationJobs,
  routes: channelWebhookRoutes,
  // Agents work conversations; admins configure inboxes, agents and rules; both can listen live.
  schema: (builder, refs, runtime) => {
    const types = conversationTypes(builder, refs);
    conversationsSchema(builder, refs, runtime, types);
    configurationSchema(builder, runtime, types);
    liveSchema(builder, runtime, types);
  },
  exportProfile: exportConversations,
  eraseProfile: eraseConversations,
});
