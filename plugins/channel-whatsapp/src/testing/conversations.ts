// Tests only. The conversations module has no GraphQL for inboxes and replies yet, so the tests
// reach its services by path, as its own tests would; the plugin's code imports only @atrium/core.
import { type AnyChannel, type ModuleRuntime, WORKSPACE_FILTER } from '@atrium/core';
import type { TestEnvironment } from '@atrium/core/testing';
import { conversationDependencies } from '../../../../core/src/modules/conversations/levels.ts';
import { createInbox } from '../../../../core/src/modules/conversations/service/inboxes.ts';
import { type SendInput, sendMessage } from '../../../../core/src/modules/conversations/service/messages.ts';
import { setConsent } from '../../../../core/src/modules/profiles/privacy/consent.ts';

function channelsOf(env: TestEnvironment): Map<string, AnyChannel> {
  return new Map(env.atrium.modules.flatMap((m) => m.definition.channels ?? []).map((c) => [c.code, c]));
}

export async function createWhatsAppInbox(
  env: TestEnvironment,
  workspaceId: string,
  settings: Record<string, unknown>,
) {
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  return createInbox(em, workspaceId, channelsOf(env), {
    channel: 'whatsapp',
    name: 'WhatsApp support',
    settings,
  });
}

/** The core's send, in a transaction of its own, with the running server's channels and queue. */
export async function send(env: TestEnvironment, input: Omit<SendInput, 'author' | 'authorId'>) {
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: input.workspaceId });
  // What a module's runtime would hand to sendMessage, from the running server's parts.
  const runtime = { channels: channelsOf(env), jobs: env.atrium.jobs, settings: env.atrium.settings };
  const deps = conversationDependencies(runtime as unknown as ModuleRuntime);
  return em.transactional((tx) => sendMessage(tx, deps, { author: 'agent', authorId: 'agent-1', ...input }));
}

export async function grantConsent(
  env: TestEnvironment,
  workspaceId: string,
  profileId: string,
  purpose: string,
) {
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  return setConsent(em, workspaceId, {
    profileId,
    purpose,
    granted: true,
    source: 'test',
    policyVersion: '1',
  });
}
