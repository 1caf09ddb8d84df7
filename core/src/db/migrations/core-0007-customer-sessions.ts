import { Migration } from '@mikro-orm/migrations';

/** Customer sessions: opaque tokens (stored hashed) for customers acting for themselves (web chat). */
export class CoreCustomerSessions extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "customer_session" ("id" uuid not null, "workspace_id" uuid not null, "profile_id" uuid not null, "token_hash" varchar(64) not null, "issued_by" varchar(100) not null, "inbox_id" uuid null, "identities" jsonb not null default '[]', "created_at" timestamptz not null, "expires_at" timestamptz not null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "customer_session" add constraint "customer_session_token_hash_unique" unique ("token_hash");`,
    );
    this.addSql(
      `create index "customer_session_workspace_id_profile_id_index" on "customer_session" ("workspace_id", "profile_id");`,
    );
    this.addSql(`create index "customer_session_expires_at_index" on "customer_session" ("expires_at");`);
    this.addSql(
      `alter table "customer_session" add constraint "customer_session_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `alter table "customer_session" add constraint "customer_session_inbox_id_foreign" foreign key ("inbox_id") references "channel_inbox" ("id") on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "customer_session" cascade;`);
  }
}
