import type { MigrationDefinition } from '@atrium/core';
import { Migration } from '@mikro-orm/migrations';

class WebhooksEndpointsAndDeliveries extends Migration {
  override async up(): Promise<void> {}
}

export const webhooksMigrations: MigrationDefinition[] = [
  { name: 'webhooks-0001-endpoints-and-deliveries', class: WebhooksEndpointsAndDeliveries },
];
