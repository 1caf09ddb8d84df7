import { definePlugin } from '@atrium/core';
import { webchatChannel } from './channel.ts';
import { type WebchatOptions, webchatConfig } from './config.ts';
import { webchatRoutes } from './routes.ts';
import { webchatSchema } from './schema.ts';

export type { WebchatConfig, WebchatOptions } from './config.ts';
export { userHashOf, verifyUserHash } from './identity.ts';
export { type TypingNotice, visitorTopic } from './live.ts';
export { parseInboxSettings, type WebchatInboxSettings } from './settings.ts';

/**
 * Web chat: an embeddable widget on the customer's site; visitors get customer sessions, write
 * into their conversation and receive agents' replies and typing live over server-sent events.
 */
export const webchatPlugin = definePlugin((_options: WebchatOptions = {}) => ({
  name: 'channel-webchat',
  compatibility: '^1.0.0',
  config: webchatConfig,
  channels: [webchatChannel],
  routes: webchatRoutes,
  schema: webchatSchema,
}));
