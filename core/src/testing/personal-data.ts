import pg from 'pg';

export interface PersonalDataHit {
  table: string;
  column: string;
  needle: string;
  rows: number;
}

/** Column types whose text can carry an id, an e-mail address or a phone number. */
const SEARCHED_TYPES = [
  'text',
  'character varying',
  'character',
  'json',
  'jsonb',
  'uuid',
  'ARRAY',
  'USER-DEFINED',
];

/**
 * Sweeps every text, JSON, uuid and array column of every table in `schemas` (by default ours
 * and pg-boss's) for each needle, case-insensitively. `tables` lists what was swept, so a test
 * can show the sweep covered the stores it cares about; `hits` is what an erasure test wants empty.
 */
export async function sweepForPersonalData(
  databaseUrl: string,
  needles: string[],
  schemas: string[] = ['public', 'pgboss'],
): Promise<{ tables: string[]; hits: PersonalDataHit[] }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows: columns } = await client.query<{ schema: string; table: string; column: string }>(
      `select c.table_schema as schema, c.table_name as table, c.column_name as column
       from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
       where c.table_schema = any($1) and t.table_type = 'BASE TABLE' and c.data_type = any($2)
       order by 1, 2, 3`,
      [schemas, SEARCHED_TYPES],
    );
    const hits: PersonalDataHit[] = [];
    const lowered = needles.map((n) => n.toLowerCase());
    for (const { schema, table, column } of columns) {
      const target = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`;
      for (const needle of lowered) {
        const { rows } = await client.query<{ n: number }>(
          `select count(*)::int as n from ${target} where strpos(lower(${pg.escapeIdentifier(column)}::text), $1) > 0`,
          [needle],
        );
        const count = rows[0]?.n ?? 0;
        if (count > 0) hits.push({ table: `${schema}.${table}`, column, needle, rows: count });
      }
    }
    return { tables: [...new Set(columns.map((c) => `${c.schema}.${c.table}`))], hits };
  } finally {
    await client.end();
  }
}
