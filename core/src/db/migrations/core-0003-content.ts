import { Migration } from '@mikro-orm/migrations';

/** Content types, locales, entries, versions and the review workflow. */
export class CoreContent extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "content_type" ("id" uuid not null, "workspace_id" uuid not null, "key" varchar(100) not null, "name" varchar(200) not null, "description" text null, "is_block" boolean not null default false, "fields" jsonb not null, "schema_org_type" text not null default 'WebPage', "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "content_type" add constraint "content_type_workspace_id_key_unique" unique ("workspace_id", "key");`,
    );
    this.addSql(
      `create table "content_locale" ("id" uuid not null, "workspace_id" uuid not null, "code" varchar(20) not null, "fallback" varchar(20) null, "is_default" boolean not null default false, primary key ("id"));`,
    );
    this.addSql(
      `alter table "content_locale" add constraint "content_locale_workspace_id_code_unique" unique ("workspace_id", "code");`,
    );
    this.addSql(
      `create table "content_entry" ("id" uuid not null, "workspace_id" uuid not null, "type_id" uuid not null, "key" varchar(200) not null, "status" text not null default 'draft', "visibility" text not null default 'public', "tags" jsonb not null default '[]', "working_version" int not null default 1, "published_version" int null, "publish_at" timestamptz null, "unpublish_at" timestamptz null, "published_at" timestamptz null, "published_by" varchar(200) null, "created_by" varchar(200) not null, "updated_by" varchar(200) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "content_entry_workspace_id_type_id_status_index" on "content_entry" ("workspace_id", "type_id", "status");`,
    );
    this.addSql(
      `alter table "content_entry" add constraint "content_entry_workspace_id_key_unique" unique ("workspace_id", "key");`,
    );
    this.addSql(
      `create table "workflow_transition" ("id" uuid not null, "workspace_id" uuid not null, "entry_id" uuid not null, "from_status" text not null, "to_status" text not null, "version" int not null, "actor" varchar(200) not null, "comment" text null, "at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "workflow_transition_entry_id_at_index" on "workflow_transition" ("entry_id", "at");`,
    );
    this.addSql(
      `create table "content_version" ("id" uuid not null, "workspace_id" uuid not null, "entry_id" uuid not null, "version" int not null, "fields" jsonb not null, "variants" jsonb not null default '[]', "references" jsonb not null default '[]', "created_by" varchar(200) not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "content_version" add constraint "content_version_entry_id_version_unique" unique ("entry_id", "version");`,
    );
    this.addSql(
      `alter table "content_type" add constraint "content_type_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "content_type" add constraint "content_type_schema_org_type_check" check ("schema_org_type" in ('Article', 'FAQPage', 'Product', 'HowTo', 'Organization', 'WebPage'));`,
    );
    this.addSql(
      `alter table "content_locale" add constraint "content_locale_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "content_entry" add constraint "content_entry_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "content_entry" add constraint "content_entry_type_id_foreign" foreign key ("type_id") references "content_type" ("id");`,
    );
    this.addSql(
      `alter table "content_entry" add constraint "content_entry_status_check" check ("status" in ('draft', 'in_review', 'approved', 'published', 'archived'));`,
    );
    this.addSql(
      `alter table "content_entry" add constraint "content_entry_visibility_check" check ("visibility" in ('public', 'internal'));`,
    );
    this.addSql(
      `alter table "workflow_transition" add constraint "workflow_transition_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "workflow_transition" add constraint "workflow_transition_entry_id_foreign" foreign key ("entry_id") references "content_entry" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "workflow_transition" add constraint "workflow_transition_from_status_check" check ("from_status" in ('draft', 'in_review', 'approved', 'published', 'archived'));`,
    );
    this.addSql(
      `alter table "workflow_transition" add constraint "workflow_transition_to_status_check" check ("to_status" in ('draft', 'in_review', 'approved', 'published', 'archived'));`,
    );
    this.addSql(
      `alter table "content_version" add constraint "content_version_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "content_version" add constraint "content_version_entry_id_foreign" foreign key ("entry_id") references "content_entry" ("id") on delete cascade;`,
    );
  }
}
