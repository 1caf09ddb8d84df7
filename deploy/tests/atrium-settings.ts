// The names of Atrium's settings, read from the zod schema in core/src/kernel/config.ts, so the
// deploy tests notice when core adds a setting that the chart or the compose file does not know.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

export function atriumSettingNames(): string[] {
  const source = readFileSync(path.join(repoRoot, 'core/src/kernel/config.ts'), 'utf8');
  const start = source.indexOf('const settingsSchema = z.object({');
  const end = source.indexOf('\n});', start);
  if (start < 0 || end < 0) throw new Error('settingsSchema not found in core/src/kernel/config.ts');
  const names = [...source.slice(start, end).matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] ?? '');
  if (names.length < 10)
    throw new Error(`only ${names.length} settings found in config.ts; has its shape changed?`);
  return names;
}
