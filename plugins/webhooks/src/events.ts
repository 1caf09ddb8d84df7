import type { EventSubscription } from '@atrium/core';
import type { WebhooksConfig } from './config.ts';
import { queueDeliveries } from './service.ts';

/**
 * Every domain event, in the outbox delivery's transaction: the delivery rows and their
 * jobs commit with it exactly once. The HTTP calls happen later, in `webhooks.deliver`.
 */
export const fanOutToEndpoints: EventSubscription<WebhooksConfig> = {
  on: '*',
  name: 'fan-out',
  handle: async (event, ctx) => {
    await queueDeliveries(ctx.em, ctx.jobs, event);
  },
};
