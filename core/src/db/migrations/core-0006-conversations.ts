import { Migration } from '@mikro-orm/migrations';

/** Conversations: inboxes per channel, one thread per customer, messages with delivery state, routing. */
export class CoreConversations extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "routing_rule" ("id" uuid not null, "workspace_id" uuid not null, "name" varchar(200) not null, "position" int not null, "match" jsonb not null default '{}', "team" varchar(100) null, "required_skills" text[] not null default '{}', "priority" text null, "enabled" boolean not null default true, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "routing_rule_workspace_id_position_index" on "routing_rule" ("workspace_id", "position");`,
    );
    this.addSql(
      `create table "channel_inbox" ("id" uuid not null, "workspace_id" uuid not null, "channel" varchar(50) not null, "name" varchar(200) not null, "address" varchar(320) null, "settings" jsonb not null default '{}', "secret" varchar(100) not null, "enabled" boolean not null default true, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "channel_inbox_workspace_id_channel_index" on "channel_inbox" ("workspace_id", "channel");`,
    );
    this.addSql(
      `create table "conversation" ("id" uuid not null, "workspace_id" uuid not null, "profile_id" uuid not null, "status" text not null default 'open', "channels" text[] not null default '{}', "last_inbox_id" uuid null, "assignee" varchar(200) null, "team" varchar(100) null, "priority" text not null default 'normal', "tags" text[] not null default '{}', "language" varchar(35) null, "intent" varchar(100) null, "snoozed_until" timestamptz null, "first_response_due_at" timestamptz null, "first_response_at" timestamptz null, "resolution_due_at" timestamptz null, "resolved_at" timestamptz null, "last_message_at" timestamptz null, "merged_into" uuid null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "conversation_workspace_id_profile_id_status_index" on "conversation" ("workspace_id", "profile_id", "status");`,
    );
    this.addSql(
      `create index "conversation_workspace_id_status_last_message_at_index" on "conversation" ("workspace_id", "status", "last_message_at");`,
    );
    this.addSql(
      `create table "message" ("id" uuid not null, "workspace_id" uuid not null, "conversation_id" uuid not null, "direction" text not null, "author" text not null, "author_id" varchar(200) null, "channel" varchar(50) not null, "inbox_id" uuid null, "internal" boolean not null default false, "purpose" text not null default 'conversational', "text" text null, "parts" jsonb not null default '[]', "attachments" jsonb not null default '[]', "args" jsonb not null default '{}', "status" text not null, "error" varchar(1000) null, "attempts" int not null default 0, "provider_message_id" varchar(500) null, "in_reply_to" text[] not null default '{}', "idempotency_key" varchar(200) not null, "intent" varchar(100) null, "sentiment" real null, "sent_at" timestamptz null, "delivered_at" timestamptz null, "read_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "message_conversation_id_created_at_index" on "message" ("conversation_id", "created_at");`,
    );
    this.addSql(
      `create index "message_workspace_id_provider_message_id_index" on "message" ("workspace_id", "provider_message_id");`,
    );
    this.addSql(
      `alter table "message" add constraint "message_workspace_id_idempotency_key_unique" unique ("workspace_id", "idempotency_key");`,
    );
    this.addSql(
      `create table "conversation_handoff" ("id" uuid not null, "workspace_id" uuid not null, "conversation_id" uuid not null, "source" varchar(100) not null, "reason" varchar(100) not null, "summary" text not null, "context" jsonb not null default '{}', "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "conversation_handoff_conversation_id_created_at_index" on "conversation_handoff" ("conversation_id", "created_at");`,
    );
    this.addSql(
      `create table "conversation_assignment" ("id" uuid not null, "workspace_id" uuid not null, "conversation_id" uuid not null, "assignee" varchar(200) null, "team" varchar(100) null, "reason" text not null, "detail" varchar(500) null, "assigned_by" varchar(200) null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "conversation_assignment_conversation_id_created_at_index" on "conversation_assignment" ("conversation_id", "created_at");`,
    );
    this.addSql(
      `create table "conversation_agent" ("id" uuid not null, "workspace_id" uuid not null, "subject" varchar(200) not null, "display_name" varchar(200) not null, "skills" text[] not null default '{}', "teams" text[] not null default '{}', "languages" text[] not null default '{}', "max_open" int not null default 10, "available" boolean not null default true, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "conversation_agent" add constraint "conversation_agent_workspace_id_subject_unique" unique ("workspace_id", "subject");`,
    );
    this.addSql(
      `alter table "routing_rule" add constraint "routing_rule_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "routing_rule" add constraint "routing_rule_priority_check" check ("priority" in ('low', 'normal', 'high', 'urgent'));`,
    );
    this.addSql(
      `alter table "channel_inbox" add constraint "channel_inbox_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "conversation" add constraint "conversation_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "conversation" add constraint "conversation_last_inbox_id_foreign" foreign key ("last_inbox_id") references "channel_inbox" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "conversation" add constraint "conversation_status_check" check ("status" in ('open', 'pending', 'snoozed', 'resolved'));`,
    );
    this.addSql(
      `alter table "conversation" add constraint "conversation_priority_check" check ("priority" in ('low', 'normal', 'high', 'urgent'));`,
    );
    this.addSql(
      `alter table "message" add constraint "message_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "message" add constraint "message_conversation_id_foreign" foreign key ("conversation_id") references "conversation" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "message" add constraint "message_inbox_id_foreign" foreign key ("inbox_id") references "channel_inbox" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "message" add constraint "message_direction_check" check ("direction" in ('inbound', 'outbound'));`,
    );
    this.addSql(
      `alter table "message" add constraint "message_author_check" check ("author" in ('customer', 'agent', 'assistant', 'system'));`,
    );
    this.addSql(
      `alter table "message" add constraint "message_purpose_check" check ("purpose" in ('conversational', 'transactional', 'marketing'));`,
    );
    this.addSql(
      `alter table "message" add constraint "message_status_check" check ("status" in ('received', 'queued', 'sending', 'sent', 'delivered', 'read', 'failed'));`,
    );
    this.addSql(
      `alter table "conversation_handoff" add constraint "conversation_handoff_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "conversation_handoff" add constraint "conversation_handoff_conversation_id_foreign" foreign key ("conversation_id") references "conversation" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "conversation_assignment" add constraint "conversation_assignment_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "conversation_assignment" add constraint "conversation_assignment_conversation_id_foreign" foreign key ("conversation_id") references "conversation" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "conversation_assignment" add constraint "conversation_assignment_reason_check" check ("reason" in ('rule', 'manual', 'handoff', 'merge'));`,
    );
    this.addSql(
      `alter table "conversation_agent" add constraint "conversation_agent_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
  }

  override async down(): Promise<void> {
    for (const table of [
      'conversation_handoff',
      'conversation_assignment',
      'message',
      'conversation',
      'routing_rule',
      'conversation_agent',
      'channel_inbox',
    ]) {
      this.addSql(`drop table if exists "${table}" cascade;`);
    }
  }
}
