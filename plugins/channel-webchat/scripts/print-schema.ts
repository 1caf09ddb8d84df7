// Writes the Public graph of core plus this plugin; `schema.test.ts` fails when it drifts.
import { writeFileSync } from 'node:fs';
import { printConfiguredSchema } from '@atrium/core/testing';
import { webchatPlugin } from '../src/index.ts';

const file = new URL('../schema/public.graphql', import.meta.url);
writeFileSync(file, printConfiguredSchema([webchatPlugin()], 'public'));
console.log(`wrote ${file.pathname}`);
