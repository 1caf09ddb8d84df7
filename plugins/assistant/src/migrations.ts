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

/** Knowledge gaps: unanswered questions grouped for editors (the questions stay in assistant_answer). */
class AssistantKnowledgeGaps extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "assistant_knowledge_gap" ("id" uuid not null, "workspace_id" uuid not null, "label" varchar(200) not null, "status" text not null, "method" text not null, "question_count" int not null, "first_asked_at" timestamptz not null, "last_asked_at" timestamptz not null, "entry_id" uuid null, "decided_by" varchar(200) null, "decided_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "assistant_knowledge_gap_workspace_id_status_questi_f13a2_index" on "assistant_knowledge_gap" ("workspace_id", "status", "question_count");`,
    );
    this.addSql(
      `alter table "assistant_knowledge_gap" add constraint "assistant_knowledge_gap_status_check" check ("status" in ('open', 'drafted', 'dismissed'));`,
    );
    this.addSql(
      `alter table "assistant_knowledge_gap" add constraint "assistant_knowledge_gap_method_check" check ("method" in ('keywords', 'embeddings'));`,
    );
    this.addSql(
      `alter table "assistant_knowledge_gap" add constraint "assistant_knowledge_gap_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );

    this.addSql(
      `create table "assistant_gap_question" ("id" uuid not null, "workspace_id" uuid not null, "gap_id" uuid null, "answer_id" uuid not null, "terms" text[] not null default '{}', "embedding" real[] null, "embedding_model" varchar(200) null, "asked_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "assistant_gap_question" add constraint "assistant_gap_question_answer_id_unique" unique ("answer_id");`,
    );
    this.addSql(
      `create index "assistant_gap_question_workspace_id_gap_id_index" on "assistant_gap_question" ("workspace_id", "gap_id");`,
    );
    this.addSql(
      `alter table "assistant_gap_question" add constraint "assistant_gap_question_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "assistant_gap_question" add constraint "assistant_gap_question_gap_id_foreign" foreign key ("gap_id") references "assistant_knowledge_gap" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "assistant_gap_question" add constraint "assistant_gap_question_answer_id_foreign" foreign key ("answer_id") references "assistant_answer" ("id") on delete cascade;`,
    );
  }
}

/** Embeddings of the documents retrieval may use (with OLLAMA_EMBED_MODEL): cosine over `real[]`. */
class AssistantEmbeddings extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "assistant_embedding" ("id" uuid not null, "workspace_id" uuid not null, "collection" varchar(100) not null, "document_id" varchar(200) not null, "locale" varchar(35) not null, "model" varchar(200) not null, "content_hash" varchar(64) not null, "filters" jsonb not null default '{}', "vector" real[] not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "assistant_embedding" add constraint "assistant_embedding_workspace_id_collection_docum_f9923_unique" unique ("workspace_id", "collection", "document_id", "locale");`,
    );
    this.addSql(
      `alter table "assistant_embedding" add constraint "assistant_embedding_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
  }
}

/** Assistant tools: the policy's allowed tools, the ledger of calls, and answers of mode `action`. */
class AssistantToolCalls extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "assistant_policy" add "allowed_tools" text[] not null default '{}';`);
    this.addSql(`alter table "assistant_answer" drop constraint "assistant_answer_mode_check";`);
    this.addSql(
      `alter table "assistant_answer" add constraint "assistant_answer_mode_check" check ("mode" in ('generated', 'extractive', 'refused', 'handed_off', 'action'));`,
    );
    this.addSql(
      `create table "assistant_tool_call" ("id" uuid not null, "workspace_id" uuid not null, "profile_id" uuid not null, "conversation_id" uuid null, "question_message_id" uuid null, "confirmation_message_id" uuid null, "tool" varchar(120) not null, "args" jsonb not null, "high_impact" boolean not null, "status" text not null, "summary" text null, "result" jsonb null, "error" varchar(500) null, "decided_by" varchar(200) null, "requested_at" timestamptz not null, "decided_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "assistant_tool_call" add constraint "assistant_tool_call_question_message_id_unique" unique ("question_message_id");`,
    );
    this.addSql(
      `alter table "assistant_tool_call" add constraint "assistant_tool_call_confirmation_message_id_unique" unique ("confirmation_message_id");`,
    );
    this.addSql(
      `create index "assistant_tool_call_workspace_id_conversation_id_status_index" on "assistant_tool_call" ("workspace_id", "conversation_id", "status");`,
    );
    this.addSql(
      `create index "assistant_tool_call_workspace_id_profile_id_index" on "assistant_tool_call" ("workspace_id", "profile_id");`,
    );
    this.addSql(
      `alter table "assistant_tool_call" add constraint "assistant_tool_call_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "assistant_tool_call" add constraint "assistant_tool_call_status_check" check ("status" in ('awaiting_confirmation', 'done', 'failed', 'declined', 'expired'));`,
    );
  }
}

/** Names are global: every one starts with `assistant-`. */
export const assistantMigrations: MigrationDefinition[] = [
  { name: 'assistant-0001-policies-and-answers', class: AssistantPoliciesAndAnswers },
  { name: 'assistant-0002-memories', class: AssistantMemories },
  { name: 'assistant-0003-knowledge-gaps', class: AssistantKnowledgeGaps },
  { name: 'assistant-0004-tool-calls', class: AssistantToolCalls },
  { name: 'assistant-0005-embeddings', class: AssistantEmbeddings },
];
