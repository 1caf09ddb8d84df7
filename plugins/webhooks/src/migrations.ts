import type { MigrationDefinition } from '@atrium/core';
import { Migration } from '@mikro-orm/migrations';

/** Endpoints and their delivery log. SQL as MikroORM generates it for entities.ts (the drift test checks). */
class WebhooksEndpointsAndDeliveries extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "webhook_endpoint" ("id" uuid not null, "workspace_id" uuid not null, "url" varchar(2048) not null, "description" varchar(500) null, "event_types" text[] not null, "enabled" boolean not null default true, "secret" varchar(100) not null, "previous_secret" varchar(100) null, "previous_secret_expires_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "webhook_endpoint_workspace_id_index" on "webhook_endpoint" ("workspace_id");`);
    this.addSql(
      `alter table "webhook_endpoint" add constraint "webhook_endpoint_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );

    this.addSql(
      `create table "webhook_delivery" ("id" uuid not null, "workspace_id" uuid not null, "endpoint_id" uuid not null, "event_id" uuid not null, "event_type" varchar(200) not null, "payload" jsonb not null, "status" text not null default 'pending', "attempts" int not null default 0, "last_status_code" int null, "last_error" varchar(500) null, "next_attempt_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "delivered_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `create index "webhook_delivery_workspace_id_status_index" on "webhook_delivery" ("workspace_id", "status");`,
    );
    this.addSql(
      `alter table "webhook_delivery" add constraint "webhook_delivery_endpoint_id_event_id_unique" unique ("endpoint_id", "event_id");`,
    );
    this.addSql(
      `alter table "webhook_delivery" add constraint "webhook_delivery_status_check" check ("status" in ('pending', 'succeeded', 'failed'));`,
    );
    this.addSql(
      `alter table "webhook_delivery" add constraint "webhook_delivery_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "webhook_delivery" add constraint "webhook_delivery_endpoint_id_foreign" foreign key ("endpoint_id") references "webhook_endpoint" ("id") on delete cascade;`,
    );
  }
}

/** Names are global: every one starts with `webhooks-`. */
export const webhooksMigrations: MigrationDefinition[] = [
  { name: 'webhooks-0001-endpoints-and-deliveries', class: WebhooksEndpointsAndDeliveries },
];
