import type { EntityManager } from '@mikro-orm/postgresql';
import { CompiledQuery, type Transaction } from 'kysely';

/**
 * Runs SQL with `$1` placeholders as written, on the entity manager's open transaction when
 * there is one. For bulk paths (ingestion, merges, erasure) where the unit of work costs too
 * much; MikroORM's own `execute` would rewrite `?` inside the SQL (e.g. jsonb operators).
 */
export async function sql<Row = Record<string, unknown>>(
  em: EntityManager,
  text: string,
  params: readonly unknown[] = [],
): Promise<Row[]> {
  const executor = em.getTransactionContext<Transaction<unknown>>() ?? em.getConnection().getClient();
  const result = await executor.executeQuery(CompiledQuery.raw(text, params as unknown[]));
  return result.rows as Row[];
}
