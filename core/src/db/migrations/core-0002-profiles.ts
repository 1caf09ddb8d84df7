import { Migration } from '@mikro-orm/migrations';

/** Profiles, identities, events, consent, merges, write keys, traits, segments, retention, erasures. */
export class CoreProfiles extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "trait_definition" ("id" uuid not null, "workspace_id" uuid not null, "key" varchar(200) not null, "kind" text not null, "description" text null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "trait_definition" add constraint "trait_definition_workspace_id_key_unique" unique ("workspace_id", "key");`,
    );
    this.addSql(
      `create table "segment" ("id" uuid not null, "workspace_id" uuid not null, "key" varchar(100) not null, "name" varchar(200) not null, "description" text null, "condition" jsonb not null, "status" text not null default 'computing', "computed_profiles" int not null default 0, "total_profiles" int not null default 0, "last_computed_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "segment" add constraint "segment_workspace_id_key_unique" unique ("workspace_id", "key");`,
    );
    this.addSql(
      `create table "retention_policy" ("id" uuid not null, "workspace_id" uuid not null, "event_type" varchar(20) not null, "days" int not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "retention_policy" add constraint "retention_policy_workspace_id_event_type_unique" unique ("workspace_id", "event_type");`,
    );
    this.addSql(
      `create table "profile" ("id" uuid not null, "workspace_id" uuid not null, "traits" jsonb not null default '{}', "computed_traits" jsonb not null default '{}', "first_seen_at" timestamptz not null, "last_seen_at" timestamptz not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "profile_workspace_id_last_seen_at_index" on "profile" ("workspace_id", "last_seen_at");`,
    );
    this.addSql(
      `create table "segment_membership" ("id" uuid not null, "workspace_id" uuid not null, "segment_id" uuid not null, "profile_id" uuid not null, "entered_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "segment_membership_profile_id_index" on "segment_membership" ("profile_id");`);
    this.addSql(
      `alter table "segment_membership" add constraint "segment_membership_segment_id_profile_id_unique" unique ("segment_id", "profile_id");`,
    );
    this.addSql(
      `create table "profile_merge" ("id" uuid not null, "workspace_id" uuid not null, "survivor_id" uuid not null, "merged_profile_id" uuid not null, "reason" text not null, "details" jsonb not null default '{}', "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "profile_merge_survivor_id_index" on "profile_merge" ("survivor_id");`);
    this.addSql(
      `create table "identity" ("id" uuid not null, "workspace_id" uuid not null, "profile_id" uuid not null, "type" text not null, "value" varchar(320) not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "identity_profile_id_index" on "identity" ("profile_id");`);
    this.addSql(
      `alter table "identity" add constraint "identity_workspace_id_type_value_unique" unique ("workspace_id", "type", "value");`,
    );
    this.addSql(
      `create table "event" ("id" uuid not null, "workspace_id" uuid not null, "profile_id" uuid not null, "message_id" varchar(200) not null, "type" text not null, "name" varchar(200) null, "user_id" varchar(320) null, "anonymous_id" varchar(320) null, "properties" jsonb not null default '{}', "traits" jsonb not null default '{}', "context" jsonb not null default '{}', "channel" varchar(50) not null default 'server', "timestamp" timestamptz not null, "sent_at" timestamptz null, "original_timestamp" timestamptz null, "received_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "event_timeline_idx" on "event" ("profile_id", "timestamp" DESC);`);
    this.addSql(`create index "event_window_idx" on "event" ("workspace_id", "timestamp");`);
    this.addSql(`create index "event_name_window_idx" on "event" ("workspace_id", "name", "timestamp");`);
    this.addSql(
      `alter table "event" add constraint "event_workspace_id_message_id_unique" unique ("workspace_id", "message_id");`,
    );
    this.addSql(
      `create table "erasure_record" ("id" uuid not null, "workspace_id" uuid not null, "requested_by" varchar(200) not null, "reason" text null, "removed" jsonb not null default '{}', "erased_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create table "consent_change" ("id" uuid not null, "workspace_id" uuid not null, "profile_id" uuid not null, "purpose" text not null, "granted" boolean not null, "source" varchar(100) not null, "policy_version" varchar(50) not null, "decided_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "consent_change_profile_id_decided_at_index" on "consent_change" ("profile_id", "decided_at");`,
    );
    this.addSql(
      `create table "consent" ("id" uuid not null, "workspace_id" uuid not null, "profile_id" uuid not null, "purpose" text not null, "granted" boolean not null, "source" varchar(100) not null, "policy_version" varchar(50) not null, "decided_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "consent" add constraint "consent_profile_id_purpose_unique" unique ("profile_id", "purpose");`,
    );
    this.addSql(
      `create table "computed_trait_definition" ("id" uuid not null, "workspace_id" uuid not null, "key" varchar(200) not null, "kind" text not null, "config" jsonb not null default '{}', "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "computed_trait_definition" add constraint "computed_trait_definition_workspace_id_key_unique" unique ("workspace_id", "key");`,
    );
    this.addSql(
      `create table "write_key" ("id" uuid not null, "workspace_id" uuid not null, "name" varchar(200) not null, "prefix" varchar(16) not null, "key_hash" varchar(64) not null, "created_at" timestamptz not null, "revoked_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`alter table "write_key" add constraint "write_key_key_hash_unique" unique ("key_hash");`);
    this.addSql(
      `alter table "trait_definition" add constraint "trait_definition_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "trait_definition" add constraint "trait_definition_kind_check" check ("kind" in ('string', 'number', 'boolean', 'datetime', 'object', 'array'));`,
    );
    this.addSql(
      `alter table "segment" add constraint "segment_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "segment" add constraint "segment_status_check" check ("status" in ('active', 'computing', 'archived'));`,
    );
    this.addSql(
      `alter table "retention_policy" add constraint "retention_policy_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "profile" add constraint "profile_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "segment_membership" add constraint "segment_membership_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "segment_membership" add constraint "segment_membership_segment_id_foreign" foreign key ("segment_id") references "segment" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "segment_membership" add constraint "segment_membership_profile_id_foreign" foreign key ("profile_id") references "profile" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "profile_merge" add constraint "profile_merge_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "profile_merge" add constraint "profile_merge_survivor_id_foreign" foreign key ("survivor_id") references "profile" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "identity" add constraint "identity_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "identity" add constraint "identity_profile_id_foreign" foreign key ("profile_id") references "profile" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "identity" add constraint "identity_type_check" check ("type" in ('anonymous_id', 'user_id', 'email', 'phone'));`,
    );
    this.addSql(
      `alter table "event" add constraint "event_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "event" add constraint "event_profile_id_foreign" foreign key ("profile_id") references "profile" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "event" add constraint "event_type_check" check ("type" in ('track', 'identify', 'page', 'screen', 'group', 'alias'));`,
    );
    this.addSql(
      `alter table "erasure_record" add constraint "erasure_record_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "consent_change" add constraint "consent_change_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "consent_change" add constraint "consent_change_profile_id_foreign" foreign key ("profile_id") references "profile" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "consent_change" add constraint "consent_change_purpose_check" check ("purpose" in ('marketing_email', 'marketing_sms', 'personalization', 'analytics', 'ai_memory'));`,
    );
    this.addSql(
      `alter table "consent" add constraint "consent_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "consent" add constraint "consent_profile_id_foreign" foreign key ("profile_id") references "profile" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "consent" add constraint "consent_purpose_check" check ("purpose" in ('marketing_email', 'marketing_sms', 'personalization', 'analytics', 'ai_memory'));`,
    );
    this.addSql(
      `alter table "computed_trait_definition" add constraint "computed_trait_definition_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "computed_trait_definition" add constraint "computed_trait_definition_kind_check" check ("kind" in ('last_event', 'event_count', 'property_sum', 'engagement_score'));`,
    );
    this.addSql(
      `alter table "write_key" add constraint "write_key_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `create table "identity_rule" ("id" uuid not null, "workspace_id" uuid not null, "type" text not null, "priority" int not null, "max_per_profile" int not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "identity_rule" add constraint "identity_rule_workspace_id_type_unique" unique ("workspace_id", "type");`,
    );
    this.addSql(
      `alter table "identity_rule" add constraint "identity_rule_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "identity_rule" add constraint "identity_rule_type_check" check ("type" in ('anonymous_id', 'user_id', 'email', 'phone'));`,
    );
  }
}
