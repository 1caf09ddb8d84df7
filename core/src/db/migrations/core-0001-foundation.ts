import { Migration } from '@mikro-orm/migrations';

/** Workspaces, API keys, the outbox and its deliveries. */
export class CoreFoundation extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "workspace" ("id" uuid not null, "slug" varchar(63) not null, "name" varchar(200) not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "workspace" add constraint "workspace_slug_unique" unique ("slug");`);

    this.addSql(
      `create table "outbox_event" ("id" uuid not null, "workspace_id" uuid not null, "type" varchar(200) not null, "subject" varchar(200) null, "payload" jsonb not null, "occurred_at" timestamptz not null, "published_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "outbox_event_published_at_idx" on "outbox_event" ("published_at");`);
    this.addSql(
      `alter table "outbox_event" add constraint "outbox_event_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );

    this.addSql(
      `create table "event_delivery" ("id" uuid not null, "workspace_id" uuid not null, "event_id" uuid not null, "handler" varchar(200) not null, "status" text not null default 'pending', "attempts" int not null default 0, "last_error" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "completed_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `create index "event_delivery_workspace_id_status_index" on "event_delivery" ("workspace_id", "status");`,
    );
    this.addSql(
      `alter table "event_delivery" add constraint "event_delivery_event_id_handler_unique" unique ("event_id", "handler");`,
    );
    this.addSql(
      `alter table "event_delivery" add constraint "event_delivery_status_check" check ("status" in ('pending', 'succeeded', 'dead'));`,
    );
    this.addSql(
      `alter table "event_delivery" add constraint "event_delivery_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "event_delivery" add constraint "event_delivery_event_id_foreign" foreign key ("event_id") references "outbox_event" ("id");`,
    );

    this.addSql(
      `create table "api_key" ("id" uuid not null, "workspace_id" uuid not null, "name" varchar(200) not null, "prefix" varchar(16) not null, "secret_hash" varchar(64) not null, "role" text not null, "created_at" timestamptz not null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "api_key_prefix_index" on "api_key" ("prefix");`);
    this.addSql(`alter table "api_key" add constraint "api_key_secret_hash_unique" unique ("secret_hash");`);
    this.addSql(
      `alter table "api_key" add constraint "api_key_role_check" check ("role" in ('admin', 'editor', 'agent', 'analyst', 'viewer'));`,
    );
    this.addSql(
      `alter table "api_key" add constraint "api_key_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
  }
}
