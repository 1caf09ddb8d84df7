#!/usr/bin/env node
// Atrium runs its TypeScript directly on Node 24 (type stripping). On an older Node, hand
// over to the Node 24 that deploy/local/node.sh caches, or say how to get one.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  await import('../src/cli/main.ts');
} else {
  const cache = process.env.ATRIUM_CACHE ?? join(homedir(), '.cache', 'atrium');
  const cached = existsSync(cache)
    ? readdirSync(cache)
        .filter((d) => /^node-24\./.test(d))
        .map((d) => join(cache, d, 'bin', 'node'))
        .find((p) => existsSync(p))
    : undefined;
  if (!cached) {
    console.error(`Atrium needs Node.js 24 (this is ${process.version}). Run: source deploy/local/node.sh`);
    process.exit(1);
  }
  const result = spawnSync(cached, [process.argv[1], ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
