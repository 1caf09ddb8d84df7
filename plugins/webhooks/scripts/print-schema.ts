// Writes the Admin graph of core plus this plugin; `schema.test.ts` fails when it drifts.
import { writeFileSync } from 'node:fs';
import { printConfiguredSchema } from '@atrium/core/testing';
import { webhooksPlugin } from '../src/index.ts';

const file = new URL('../schema/admin.graphql', import.meta.url);
writeFileSync(file, printConfiguredSchema([webhooksPlugin()], 'admin'));
console.log(`wrote ${file.pathname}`);
