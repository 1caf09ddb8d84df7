import type { MikroORM } from '@mikro-orm/postgresql';

/**
 * The SQL that would bring a migrated database in line with the entities. Empty means
 * migrations and entities agree; tests assert that, and authors paste it into a migration.
 */
export async function schemaDrift(orm: MikroORM): Promise<string> {
  const sql = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: false });
  return sql.trim();
}
