import { Migration } from '@mikro-orm/migrations';

/**
 * The audit log: append-only by trigger. Only a transaction that set `atrium.audit_retention`
 * to `on` (the retention job) may delete; only one that set `atrium.audit_erasure` (GDPR
 * erasure) may update, and then only `targets`; nothing may truncate.
 */
export class CoreAudit extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "audit_entry" ("id" uuid not null, "workspace_id" uuid not null, "occurred_at" timestamptz not null, "actor_kind" varchar(20) not null, "actor_subject" varchar(255) not null, "action" varchar(200) not null, "targets" jsonb not null default '[]', "details" jsonb not null default '{}', "request_id" varchar(128) null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "audit_entry" add constraint "audit_entry_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id");`,
    );
    this.addSql(
      `create index "audit_entry_workspace_id_occurred_at_index" on "audit_entry" ("workspace_id", "occurred_at" desc, "id" desc);`,
    );
    this.addSql(
      `create index "audit_entry_targets_index" on "audit_entry" using gin ("targets" jsonb_path_ops);`,
    );
    this.addSql(`create index "audit_entry_occurred_at_index" on "audit_entry" ("occurred_at");`);
    this.addSql(
      `create function "audit_entry_append_only"() returns trigger language plpgsql as $$
       begin
         if tg_op = 'DELETE' and current_setting('atrium.audit_retention', true) = 'on' then
           return old;
         end if;
         -- GDPR erasure may replace an erased profile's id in "targets", and change nothing else.
         if tg_op = 'UPDATE' and current_setting('atrium.audit_erasure', true) = 'on'
            and (new.id, new.workspace_id, new.occurred_at, new.actor_kind, new.actor_subject, new.action, new.details)
                is not distinct from
                (old.id, old.workspace_id, old.occurred_at, old.actor_kind, old.actor_subject, old.action, old.details)
            and new.request_id is not distinct from old.request_id then
           return new;
         end if;
         raise exception 'audit_entry is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
       end $$;`,
    );
    this.addSql(
      `create trigger "audit_entry_append_only" before update or delete on "audit_entry" for each row execute function "audit_entry_append_only"();`,
    );
    this.addSql(
      `create trigger "audit_entry_no_truncate" before truncate on "audit_entry" for each statement execute function "audit_entry_append_only"();`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "audit_entry" cascade;`);
    this.addSql(`drop function if exists "audit_entry_append_only"();`);
  }
}
