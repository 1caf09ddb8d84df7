import type { AnyModule } from '../kernel/plugin.ts';
import { searchModule } from '../search/index.ts';
import { apiKeysModule } from './api-keys/index.ts';
import { auditModule } from './audit/index.ts';
import { contentModule } from './content/index.ts';
import { conversationsModule } from './conversations/index.ts';
import { customerSessionsModule } from './customer-sessions/index.ts';
import { journeysModule } from './journeys/index.ts';
import { outboxModule } from './outbox/index.ts';
import { persistedOperationsModule } from './persisted-operations/index.ts';
import { profilesModule } from './profiles/index.ts';
import { workspacesModule } from './workspaces/index.ts';

/** Always loaded, in this order, before any plugin. */
export const coreModules: AnyModule[] = [
  workspacesModule,
  apiKeysModule,
  persistedOperationsModule,
  auditModule,
  outboxModule,
  profilesModule,
  contentModule,
  conversationsModule,
  customerSessionsModule,
  journeysModule,
  searchModule,
];
