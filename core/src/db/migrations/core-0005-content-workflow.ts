import { Migration } from '@mikro-orm/migrations';

/** The content workflow's roles: reviewers approve, public read keys (`reader`) read published content. */
export class CoreContentWorkflow extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "api_key" drop constraint "api_key_role_check";`);
    this.addSql(
      `alter table "api_key" add constraint "api_key_role_check" check ("role" in ('admin', 'editor', 'reviewer', 'agent', 'analyst', 'viewer', 'reader'));`,
    );
  }
}
