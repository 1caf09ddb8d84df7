import { defineModule } from '../../kernel/plugin.ts';
import { Agent, Assignment, ChannelInbox, Conversation, Handoff, Message, RoutingRule } from './entities.ts';
import { conversationEvents } from './events.ts';
import { conversationJobs } from './jobs.ts';
import { eraseConversations, exportConversations } from './privacy.ts';
import { channelWebhookRoutes } from './routes/webhooks.ts';

/** One omnichannel thread per customer: channels write into it, agents and bots answer from it. */
export const conversationsModule = defineModule({
  name: 'conversations',
  entities: [ChannelInbox, Conversation, Message, Agent, RoutingRule, Assignment, Handoff],
  events: conversationEvents,
  jobs: conversationJobs,
  routes: channelWebhookRoutes,
  exportProfile: exportConversations,
  eraseProfile: eraseConversations,
});
