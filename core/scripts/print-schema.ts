// Writes the committed SDL of the core's Admin and Public graphs; `schema.test.ts` fails
// when these files and the code disagree. Run: npm run schema:write -w @atrium/core
import { writeFileSync } from 'node:fs';
import { printConfiguredSchema } from '../src/graphql/print.ts';

for (const graph of ['admin', 'public'] as const) {
  const file = new URL(`../schema/${graph}.graphql`, import.meta.url);
  writeFileSync(file, printConfiguredSchema([], graph));
  console.log(`wrote ${file.pathname}`);
}
