import { Migration } from '@mikro-orm/migrations';

/**
 * The PostgreSQL search engine's tables (no entities: the engine writes them with SQL). pg_trgm gives
 * typo tolerance; where it cannot be installed (no privilege, a build without contrib) the tables
 * still come and search runs without typo tolerance (the engine logs that once).
 */
export class CoreSearch extends Migration {
  override async up(): Promise<void> {
    this.addSql(`do $$ begin
  create extension if not exists pg_trgm;
exception when others then
  raise notice 'pg_trgm is not available (%): search runs without typo tolerance', sqlerrm;
end $$;`);
    this.addSql(
      `create table "search_collection" ("workspace_id" uuid not null, "collection" varchar(63) not null, "settings" jsonb not null, "updated_at" timestamptz not null default now(), primary key ("workspace_id", "collection"));`,
    );
    this.addSql(
      `create table "search_document" ("workspace_id" uuid not null, "collection" varchar(63) not null, "doc_id" varchar(255) not null, "locale" varchar(35) not null default '', "config" regconfig not null, "fields" jsonb not null, "filters" jsonb not null default '{}', "text" text not null, "tsv" tsvector not null, "indexed_at" timestamptz not null default now(), primary key ("workspace_id", "collection", "doc_id", "locale"));`,
    );
    this.addSql(`create index "search_document_tsv_index" on "search_document" using gin ("tsv");`);
    // The first searchable field's words (weight A): the candidates ranked first on common words.
    this.addSql(
      `create index "search_document_tsv_a_index" on "search_document" using gin (ts_filter("tsv", '{a}'));`,
    );
    this.addSql(
      `create index "search_document_filters_index" on "search_document" using gin ("filters" jsonb_path_ops);`,
    );
    // The words of every collection: typo tolerance looks up the closest known words here.
    this.addSql(
      `create table "search_term" ("workspace_id" uuid not null, "collection" varchar(63) not null, "term" text not null, primary key ("workspace_id", "collection", "term"));`,
    );
    this.addSql(`do $$ begin
  if exists (select 1 from pg_extension where extname = 'pg_trgm') then
    create index "search_term_trgm_index" on "search_term" using gin ("term" gin_trgm_ops);
  end if;
end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "search_term";');
    this.addSql('drop table if exists "search_document";');
    this.addSql('drop table if exists "search_collection";');
  }
}
