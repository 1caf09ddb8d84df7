import type { MigrationDefinition } from '@atrium/core';
import { Migration } from '@mikro-orm/migrations';

/** Policies and answer explanations. SQL as MikroORM generates it for entities.ts (the drift test checks). */
class AssistantPoliciesAndAnswers extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "assistant_policy" ("id" uuid not null, "workspace_id" uuid not null, "version" int not null, "tone" varchar(500) not null, "words_to_use" text[] not null default '{}', "words_to_avoid" text[] not null default '{}', "allowed_collections" text[] not null, "blocked_topics" text[] not null default '{}', "handoff_topics" text[] not null default '{}', "disclaimers" text[] not null default '{}', "languages" text[] not null default '{}', "created_by" varchar(200) null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "assistant_policy" add constraint "assistant_policy_workspace_id_version_unique" unique ("workspace_id", "version");`,
    );
    this.addSql(
      `alter table "assistant_policy" add constraint "assistant_policy_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );

    this.addSql(
      `create table "assistant_answer" ("id" uuid not null, "workspace_id" uuid not null, "profile_id" uuid null, "conversation_id" uuid null, "question_message_id" uuid null, "reply_message_id" uuid null, "question" text not null, "answer" text not null, "mode" text not null, "sources" jsonb not null default '[]', "policy_version" int not null, "rules_applied" text[] not null default '{}', "model" varchar(200) null, "confidence" real not null, "handoff_reason" varchar(100) null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "assistant_answer" add constraint "assistant_answer_question_message_id_unique" unique ("question_message_id");`,
    );
    this.addSql(
      `create index "assistant_answer_workspace_id_conversation_id_index" on "assistant_answer" ("workspace_id", "conversation_id");`,
    );
    this.addSql(
      `create index "assistant_answer_workspace_id_profile_id_index" on "assistant_answer" ("workspace_id", "profile_id");`,
    );
    this.addSql(
      `alter table "assistant_answer" add constraint "assistant_answer_mode_check" check ("mode" in ('generated', 'extractive', 'refused', 'handed_off'));`,
    );
    this.addSql(
      `alter table "assistant_answer" add constraint "assistant_answer_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
  }
}

/** What the assistant remembers about a person (only with `ai_memory` consent). */
class AssistantMemories extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "assistant_memory" ("id" uuid not null, "workspace_id" uuid not null, "profile_id" uuid not null, "kind" text not null, "text" varchar(500) not null, "source" varchar(200) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "assistant_memory_workspace_id_profile_id_index" on "assistant_memory" ("workspace_id", "profile_id");`,
    );
    this.addSql(
      `alter table "assistant_memory" add constraint "assistant_memory_kind_check" check ("kind" in ('fact', 'preference'));`,
    );
    this.addSql(
      `alter table "assistant_memory" add constraint "assistant_memory_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
  }
}

/** Names are global: every one starts with `assistant-`. */
export const assistantMigrations: MigrationDefinition[] = [
  { name: 'assistant-0001-policies-and-answers', class: AssistantPoliciesAndAnswers },
  { name: 'assistant-0002-memories', class: AssistantMemories },
];
