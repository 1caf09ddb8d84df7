import type { MigrationDefinition } from '../../kernel/plugin.ts';
import { CoreFoundation } from './core-0001-foundation.ts';

/** The core's migrations, oldest first; plugins' follow in the order plugins are listed. */
export const coreMigrations: MigrationDefinition[] = [
  { name: 'core-0001-foundation', class: CoreFoundation },
];
