// Writes the Admin and Public graphs of core plus this plugin; `schema.test.ts` fails when they drift.
import { writeFileSync } from 'node:fs';
import { printConfiguredSchema } from '@atrium/core/testing';
import { assistantPlugin } from '../src/index.ts';

for (const graph of ['admin', 'public'] as const) {
  const file = new URL(`../schema/${graph}.graphql`, import.meta.url);
  writeFileSync(file, printConfiguredSchema([assistantPlugin()], graph));
  console.log(`wrote ${file.pathname}`);
}
