import { definePlugin } from '@atrium/core';
import { type WebhooksConfig, type WebhooksOptions, webhooksConfig } from './config.ts';
import { WebhookDelivery, WebhookEndpoint } from './entities.ts';
import { fanOutToEndpoints } from './events.ts';
import { deliverJob } from './jobs.ts';
import { webhooksMigrations } from './migrations.ts';
import { eraseWebhookDeliveries, exportWebhookDeliveries } from './privacy.ts';
import { webhooksSchema } from './schema.ts';
import { DELIVER_QUEUE } from './service.ts';

export { CLOUD_EVENT_TYPE_PREFIX, type CloudEvent } from './cloud-event.ts';
export type { WebhooksConfig, WebhooksOptions } from './config.ts';
export { WebhookDelivery, WebhookEndpoint } from './entities.ts';
export { signWebhook, verifyWebhookSignature } from './signing.ts';

/** Outbound webhooks: every domain event, as a signed CloudEvent, to the endpoints that subscribe to it. */
export const webhooksPlugin = definePlugin((_options: WebhooksOptions = {}) => ({
  name: 'webhooks',
  compatibility: '^1.0.0',
  config: webhooksConfig,
  entities: [WebhookEndpoint, WebhookDelivery],
  migrations: webhooksMigrations,
  schema: webhooksSchema,
  events: [fanOutToEndpoints],
  // Retry policy follows the validated options.
  jobs: (config: WebhooksConfig) => ({ [DELIVER_QUEUE]: deliverJob(config) }),
  // Delivery payloads are copies of domain events: GDPR export and erasure reach them too.
  exportProfile: exportWebhookDeliveries,
  eraseProfile: eraseWebhookDeliveries,
}));
