import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import type { AnyChannel, InboxView } from '../channels.ts';
import { ChannelInbox, type ChannelInboxEntity } from '../entities.ts';

export interface InboxInput {
  channel: string;
  name: string;
  address?: string | null;
  settings?: Record<string, unknown> | null;
}

/** The channel registered under `code`, or a ValidationError that lists the ones there are. */
export function channelOf(
  channels: ReadonlyMap<string, AnyChannel>,
  code: string,
  field = 'channel',
): AnyChannel {
  const channel = channels.get(code);
  if (!channel) {
    const known = [...channels.keys()].join(', ') || 'none: add a channel plugin to atrium.config.ts';
    throw new ValidationError(`unknown channel "${code}"; channels: ${known}`, field);
  }
  return channel;
}

/** Creates an inbox and its secret; the secret is shown once, in the answer. */
export async function createInbox(
  em: EntityManager,
  workspaceId: string,
  channels: ReadonlyMap<string, AnyChannel>,
  input: InboxInput,
): Promise<{ inbox: ChannelInboxEntity; secret: string }> {
  const channel = channelOf(channels, input.channel);
  const name = input.name.trim();
  if (!name || name.length > 200) throw new ValidationError('name must have 1 to 200 characters', 'name');
  const settings = channel.inboxSettings?.(input.settings ?? {}) ?? input.settings ?? {};
  const secret = `chs_${randomBytes(24).toString('base64url')}`;
  const inbox = em.create(ChannelInbox, {
    workspace: workspaceId,
    channel: channel.code,
    name,
    address: input.address?.trim() || null,
    settings,
    secret,
  });
  await em.flush();
  return { inbox, secret };
}

export async function updateInbox(
  em: EntityManager,
  channels: ReadonlyMap<string, AnyChannel>,
  id: string,
  patch: {
    name?: string | null;
    address?: string | null;
    settings?: Record<string, unknown> | null;
    enabled?: boolean | null;
  },
): Promise<ChannelInboxEntity> {
  const inbox = await em.findOne(ChannelInbox, { id });
  if (!inbox) throw new NotFoundError('the inbox');
  if (patch.name != null) {
    const name = patch.name.trim();
    if (!name || name.length > 200) throw new ValidationError('name must have 1 to 200 characters', 'name');
    inbox.name = name;
  }
  if (patch.address !== undefined) inbox.address = patch.address?.trim() || null;
  if (patch.settings != null) {
    const channel = channelOf(channels, inbox.channel);
    inbox.settings = channel.inboxSettings?.(patch.settings) ?? patch.settings;
  }
  if (patch.enabled != null) inbox.enabled = patch.enabled;
  await em.flush();
  return inbox;
}

/** What a channel sees of an inbox. */
export function inboxView(inbox: ChannelInboxEntity): InboxView {
  return {
    id: inbox.id,
    workspaceId: inbox.workspace,
    address: inbox.address ?? null,
    settings: inbox.settings,
    secret: inbox.secret,
  };
}
