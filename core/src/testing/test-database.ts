import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server the test command started (deploy/local/postgres.sh). */
export function testServerUrl(): string {
  const url = process.env.ATRIUM_TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      'ATRIUM_TEST_DATABASE_URL is not set: run the tests with `bash deploy/local/test.sh`, which starts PostgreSQL',
    );
  }
  return url;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the test server; one per test file keeps files independent. */
export async function createTestDatabase(prefix = 'atrium_t'): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await withAdmin(serverUrl, (admin) => admin.query(`create database ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withAdmin(serverUrl, (admin) => admin.query(`drop database if exists ${name} with (force)`)),
  };
}

async function withAdmin(url: string, run: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await run(admin);
  } finally {
    await admin.end();
  }
}
