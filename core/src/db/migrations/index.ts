import type { MigrationDefinition } from '../../kernel/plugin.ts';
import { CoreFoundation } from './core-0001-foundation.ts';
import { CoreProfiles } from './core-0002-profiles.ts';
import { CoreContent } from './core-0003-content.ts';
import { CoreSearch } from './core-0004-search.ts';
import { CoreContentWorkflow } from './core-0005-content-workflow.ts';
import { CoreConversations } from './core-0006-conversations.ts';
import { CoreCustomerSessions } from './core-0007-customer-sessions.ts';
import { CoreJourneys } from './core-0008-journeys.ts';
import { CoreAudit } from './core-0009-audit.ts';
import { CoreWorkspaceSecurity } from './core-0010-workspace-security.ts';

/** The core's migrations, oldest first; plugins' follow in the order plugins are listed. */
export const coreMigrations: MigrationDefinition[] = [
  { name: 'core-0001-foundation', class: CoreFoundation },
  { name: 'core-0002-profiles', class: CoreProfiles },
  { name: 'core-0003-content', class: CoreContent },
  { name: 'core-0004-search', class: CoreSearch },
  { name: 'core-0005-content-workflow', class: CoreContentWorkflow },
  { name: 'core-0006-conversations', class: CoreConversations },
  { name: 'core-0007-customer-sessions', class: CoreCustomerSessions },
  { name: 'core-0008-journeys', class: CoreJourneys },
  { name: 'core-0009-audit', class: CoreAudit },
  { name: 'core-0010-workspace-security', class: CoreWorkspaceSecurity },
];
