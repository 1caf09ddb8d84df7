import { Migration } from '@mikro-orm/migrations';

/**
 * Per-workspace security settings (browser origins allowed to call, Public graph limited to
 * registered operations) and the allow-list of persisted operations, keyed by SHA-256.
 */
export class CoreWorkspaceSecurity extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "workspace" add "allowed_origins" text[] not null default '{}', add "persisted_operations_only" boolean not null default false;`,
    );
    this.addSql(
      `create table "persisted_operation" ("id" uuid not null, "workspace_id" uuid not null, "hash" varchar(64) not null, "document" text not null, "operation_name" varchar(200) null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "persisted_operation" add constraint "persisted_operation_workspace_id_hash_unique" unique ("workspace_id", "hash");`,
    );
    this.addSql(
      `alter table "persisted_operation" add constraint "persisted_operation_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "persisted_operation" cascade;`);
    this.addSql(
      `alter table "workspace" drop column "allowed_origins", drop column "persisted_operations_only";`,
    );
  }
}
