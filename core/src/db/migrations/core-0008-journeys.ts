import { Migration } from '@mikro-orm/migrations';

/** Journeys: drafts and immutable versions, enrollments the engine claims by due time, the step ledger, channel policies. */
export class CoreJourneys extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "journey" ("id" uuid not null, "workspace_id" uuid not null, "key" varchar(100) not null, "name" varchar(200) not null, "status" text not null default 'draft', "draft" jsonb not null, "published_version" int null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "journey" add constraint "journey_workspace_id_key_unique" unique ("workspace_id", "key");`,
    );
    this.addSql(
      `create table "journey_version" ("id" uuid not null, "workspace_id" uuid not null, "journey_id" uuid not null, "version" int not null, "definition" jsonb not null, "in_flight_policy" text not null, "published_by" varchar(200) null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "journey_version" add constraint "journey_version_journey_id_version_unique" unique ("journey_id", "version");`,
    );
    this.addSql(
      `create table "journey_enrollment" ("id" uuid not null, "workspace_id" uuid not null, "journey_id" uuid not null, "version" int not null, "profile_id" uuid not null, "status" text not null, "node" varchar(50) null, "due_at" timestamptz null, "awaiting_event" varchar(200) null, "woken_by" varchar(20) null, "failures" int not null default 0, "visits" int not null default 0, "control" boolean not null default false, "context" jsonb not null default '{}', "entered_at" timestamptz not null, "ended_at" timestamptz null, "end_reason" varchar(300) null, "goal_at" timestamptz null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "journey_enrollment_journey_id_profile_id_index" on "journey_enrollment" ("journey_id", "profile_id");`,
    );
    this.addSql(
      `create index "journey_enrollment_status_due_at_index" on "journey_enrollment" ("status", "due_at");`,
    );
    this.addSql(
      `create index "journey_enrollment_workspace_id_profile_id_awaiting_event_index" on "journey_enrollment" ("workspace_id", "profile_id", "awaiting_event");`,
    );
    this.addSql(
      `create table "journey_step_run" ("id" uuid not null, "workspace_id" uuid not null, "journey_id" uuid not null, "version" int not null, "enrollment_id" uuid not null, "node" varchar(50) not null, "visit" int not null, "step_type" varchar(100) not null, "outcome" varchar(100) null, "note" varchar(500) null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "journey_step_run_journey_id_version_node_index" on "journey_step_run" ("journey_id", "version", "node");`,
    );
    this.addSql(
      `alter table "journey_step_run" add constraint "journey_step_run_enrollment_id_visit_unique" unique ("enrollment_id", "visit");`,
    );
    this.addSql(
      `create table "journey_channel_policy" ("id" uuid not null, "workspace_id" uuid not null, "channel" varchar(50) not null, "max_per_day" int null, "max_per_week" int null, "quiet_start" varchar(5) null, "quiet_end" varchar(5) null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "journey_channel_policy" add constraint "journey_channel_policy_workspace_id_channel_unique" unique ("workspace_id", "channel");`,
    );
    this.addSql(
      `alter table "journey" add constraint "journey_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "journey" add constraint "journey_status_check" check ("status" in ('draft', 'published', 'paused', 'archived'));`,
    );
    this.addSql(
      `alter table "journey_version" add constraint "journey_version_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "journey_version" add constraint "journey_version_journey_id_foreign" foreign key ("journey_id") references "journey" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "journey_version" add constraint "journey_version_in_flight_policy_check" check ("in_flight_policy" in ('keep', 'exit'));`,
    );
    this.addSql(
      `alter table "journey_enrollment" add constraint "journey_enrollment_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "journey_enrollment" add constraint "journey_enrollment_journey_id_foreign" foreign key ("journey_id") references "journey" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "journey_enrollment" add constraint "journey_enrollment_status_check" check ("status" in ('active', 'waiting', 'completed', 'exited', 'failed'));`,
    );
    this.addSql(
      `alter table "journey_step_run" add constraint "journey_step_run_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "journey_step_run" add constraint "journey_step_run_journey_id_foreign" foreign key ("journey_id") references "journey" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "journey_step_run" add constraint "journey_step_run_enrollment_id_foreign" foreign key ("enrollment_id") references "journey_enrollment" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "journey_channel_policy" add constraint "journey_channel_policy_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
  }

  override async down(): Promise<void> {
    for (const table of [
      'journey_step_run',
      'journey_enrollment',
      'journey_version',
      'journey_channel_policy',
      'journey',
    ]) {
      this.addSql(`drop table if exists "${table}" cascade;`);
    }
  }
}
