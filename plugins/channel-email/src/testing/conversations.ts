// The core services the e-mail tests and the bench drive directly: inboxes, sends, profiles,
// consent and content entries. Until the conversations GraphQL API lands, this file is the one
// place in the plugin that reaches into core files by path; the plugin itself imports only
// `@atrium/core`.
import type { Atrium } from '@atrium/core';
import { WORKSPACE_FILTER } from '@atrium/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../../core/src/db/sql.ts';
import { doc, seedEntry, seedType } from '../../../../core/src/modules/content/delivery/test-fixtures.ts';
import { serviceLevels } from '../../../../core/src/modules/conversations/levels.ts';
import { createInbox } from '../../../../core/src/modules/conversations/service/inboxes.ts';
import {
  type SendDependencies,
  type SendInput,
  sendMessage,
} from '../../../../core/src/modules/conversations/service/messages.ts';
import { setConsent } from '../../../../core/src/modules/profiles/privacy/consent.ts';
import { normaliseIdentity } from '../../../../core/src/modules/profiles/service/identities.ts';
import { defaultIdentityRules } from '../../../../core/src/modules/profiles/service/identity-rules.ts';
import { resolveProfiles } from '../../../../core/src/modules/profiles/service/resolution.ts';

export function scopedEm(atrium: Atrium, workspaceId: string): EntityManager {
  const em = atrium.orm.em.fork();
  em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  return em;
}

/** Rows of a query across workspaces, for assertions. */
export function rows<Row = Record<string, unknown>>(atrium: Atrium, text: string, params: unknown[] = []) {
  return sql<Row>(atrium.orm.em.fork(), text, params);
}

export interface MessageRow {
  id: string;
  conversation_id: string;
  direction: 'inbound' | 'outbound';
  status: string;
  attempts: number;
  error: string | null;
  provider_message_id: string | null;
  in_reply_to: string[];
  text: string | null;
  attachments: { name: string; contentType: string; size: number }[];
  parts: Record<string, unknown>[];
}

export async function messageRow(atrium: Atrium, id: string): Promise<MessageRow | undefined> {
  const [row] = await rows<MessageRow>(atrium, 'select * from message where id = $1', [id]);
  return row;
}

/** What `sendMessage` needs, as the conversations module would hand it to a plugin. */
export function sendDependencies(atrium: Atrium): SendDependencies {
  return {
    channels: new Map(atrium.modules.flatMap((m) => m.definition.channels ?? []).map((c) => [c.code, c])),
    jobs: atrium.jobs,
    levels: serviceLevels(atrium.settings),
    delivery: {
      retryLimit: atrium.settings.CONVERSATION_DELIVERY_RETRIES,
      retryDelaySeconds: atrium.settings.CONVERSATION_DELIVERY_RETRY_DELAY_S,
    },
  };
}

export async function createEmailInbox(
  atrium: Atrium,
  workspaceId: string,
  input: { name?: string; address: string; settings?: Record<string, unknown> },
): Promise<{ id: string; secret: string }> {
  const em = scopedEm(atrium, workspaceId);
  const { inbox, secret } = await createInbox(em, workspaceId, sendDependencies(atrium).channels, {
    channel: 'email',
    name: input.name ?? 'Support',
    address: input.address,
    settings: input.settings ?? {},
  });
  return { id: inbox.id, secret };
}

/** Queues one message in its own transaction, as a GraphQL mutation would. */
export function send(
  atrium: Atrium,
  input: Omit<SendInput, 'author' | 'authorId'> & Partial<Pick<SendInput, 'author' | 'authorId'>>,
) {
  return scopedEm(atrium, input.workspaceId).transactional((em) =>
    sendMessage(em, sendDependencies(atrium), { author: 'agent', authorId: 'agent-1', ...input }),
  );
}

/** A profile known by this e-mail address (made by identity resolution, as ingestion would). */
export async function profileWithEmail(atrium: Atrium, workspaceId: string, email: string): Promise<string> {
  const resolution = await scopedEm(atrium, workspaceId).transactional((em) =>
    resolveProfiles(
      em,
      workspaceId,
      [{ keys: [normaliseIdentity('email', email)], at: new Date(), source: 'test' }],
      defaultIdentityRules,
    ),
  );
  return resolution.profileIds[0] as string;
}

export async function grantMarketingEmail(atrium: Atrium, workspaceId: string, profileId: string) {
  await setConsent(scopedEm(atrium, workspaceId), workspaceId, {
    profileId,
    purpose: 'marketing_email',
    granted: true,
    source: 'web-form',
    policyVersion: '2025-01',
  });
}

/** A published content entry with `subject` and `body`, per locale: `{ en: { subject, body } }`. */
export async function publishTemplate(
  atrium: Atrium,
  workspaceId: string,
  key: string,
  values: Record<string, { subject: string; body: string }>,
): Promise<void> {
  const typeId = await seedType(atrium.orm, workspaceId, {
    key: `mail-${key}`,
    fields: [
      { key: 'subject', kind: 'text', localized: true },
      { key: 'body', kind: 'rich_text', localized: true },
    ],
  });
  await seedEntry(atrium.orm, workspaceId, {
    typeId,
    key,
    visibility: 'internal',
    values: Object.fromEntries(
      Object.entries(values).map(([locale, v]) => [
        locale,
        { subject: v.subject, body: doc(...v.body.split('\n\n')) },
      ]),
    ),
  });
}
