import { ValidationError } from '@atrium/core';
import { z } from 'zod';

const ACCOUNT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** One Meta app's credentials: the token sends, the app secret signs what Meta posts back. */
const credentials = z.object({
  accessToken: z.string().trim().min(1, 'is required'),
  appSecret: z.string().trim().min(1, 'is required'),
});
export type WhatsAppCredentials = z.output<typeof credentials>;

/**
 * The plugin's options. Secrets live here, read from the environment in atrium.config.ts, and
 * never in an inbox's settings, which admins see: an inbox only names the account it uses.
 */
export const whatsappConfig = z
  .object({
    /** Meta's Graph API; tests point it at a local stand-in. */
    graphApiUrl: z
      .url({ protocol: /^https?$/ })
      .default('https://graph.facebook.com')
      .transform((url) => url.replace(/\/+$/, '')),
    apiVersion: z
      .string()
      .regex(/^v\d+\.\d+$/, 'must look like v23.0')
      .default('v23.0'),
    /** Per send; a slower answer counts as a failed attempt and is retried. */
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
    /** The default account's credentials, for inboxes that name no `account`. */
    accessToken: z.string().trim().min(1, 'must not be empty').optional(),
    appSecret: z.string().trim().min(1, 'must not be empty').optional(),
    /** Further Meta apps by name, for deployments with more than one; an inbox picks one with `account`. */
    accounts: z
      .record(
        z.string().regex(ACCOUNT_NAME, 'account names are lower-case letters, digits and dashes'),
        credentials,
      )
      .default({}),
  })
  .superRefine((config, ctx) => {
    if (Boolean(config.accessToken) !== Boolean(config.appSecret)) {
      ctx.addIssue({
        code: 'custom',
        path: [config.accessToken ? 'appSecret' : 'accessToken'],
        message: 'accessToken and appSecret go together (both from the same Meta app)',
      });
    }
    if (!config.accessToken && Object.keys(config.accounts).length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['accessToken'],
        message: 'is required: pass accessToken and appSecret (or accounts) from the environment',
      });
    }
  });

export type WhatsAppOptions = z.input<typeof whatsappConfig>;
export type WhatsAppConfig = z.output<typeof whatsappConfig>;

/** What an inbox stores: which number it is and how Meta proves the webhook subscription is ours. */
const inboxSettingsSchema = z.strictObject({
  /** Meta's id of the business phone number (not the number itself). */
  phoneNumberId: z
    .string()
    .trim()
    .regex(/^\d{1,32}$/, 'must be the numeric phone number id from Meta'),
  /** What Meta echoes in the subscription handshake; chosen by the admin, not a credential. */
  verifyToken: z.string().min(8, 'must have at least 8 characters').max(200),
  /** Names an entry of the plugin's `accounts`; absent means the default accessToken/appSecret. */
  account: z.string().optional(),
});
export type WhatsAppInboxSettings = z.output<typeof inboxSettingsSchema>;

const SECRET_KEYS = new Set(['accessToken', 'appSecret', 'token', 'secret']);

/** Validates an inbox's settings against this deployment's accounts; errors name the field. */
export function parseInboxSettings(
  config: WhatsAppConfig,
  raw: Record<string, unknown>,
): WhatsAppInboxSettings {
  for (const key of Object.keys(raw)) {
    if (SECRET_KEYS.has(key)) {
      throw new ValidationError(
        `settings.${key}: secrets do not belong in inbox settings, which admins can read; ` +
          'give them to whatsappPlugin() from the environment and name the account with settings.account',
        `settings.${key}`,
      );
    }
  }
  const parsed = inboxSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = ['settings', ...(issue?.path ?? []).map(String)].join('.');
    const message =
      issue?.code === 'unrecognized_keys'
        ? `unknown setting ${issue.keys.join(', ')} (settings: phoneNumberId, verifyToken, account)`
        : (issue?.message ?? 'is invalid');
    throw new ValidationError(`${path}: ${message}`, path);
  }
  credentialsOf(config, parsed.data.account);
  return parsed.data;
}

/** The credentials an inbox's `account` names; a ValidationError when this deployment has none. */
export function credentialsOf(config: WhatsAppConfig, account: string | undefined): WhatsAppCredentials {
  if (account !== undefined) {
    const named = config.accounts[account];
    if (!named) {
      const known = Object.keys(config.accounts).join(', ') || 'none';
      throw new ValidationError(
        `settings.account: no WhatsApp account "${account}" is configured (accounts: ${known})`,
        'settings.account',
      );
    }
    return named;
  }
  if (!config.accessToken || !config.appSecret) {
    throw new ValidationError(
      'settings.account is required: the plugin has no default accessToken/appSecret',
      'settings.account',
    );
  }
  return { accessToken: config.accessToken, appSecret: config.appSecret };
}
