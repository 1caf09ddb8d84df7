import { ValidationError } from '@atrium/core';

/** A web chat inbox's settings, as an admin stores them on the inbox (validated on save). */
export interface WebchatInboxSettings {
  /** Origins (`https://shop.example`) whose pages may open sessions; no entry, no browser may. */
  allowedOrigins: string[];
  /** The first line the panel shows, per locale (`de`, `en`, `de-CH`); the primary tag is the fallback. */
  greeting: Record<string, string>;
  /**
   * true (the default): `identify` needs the user hash the site's backend computed with the inbox
   * secret. false accepts a bare user id, so anyone who knows one can read that user's live chat.
   */
  requireIdentityVerification: boolean;
}

const LOCALE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

/** Checks and normalises inbox settings; a ValidationError names the field that is wrong. */
export function parseInboxSettings(raw: Record<string, unknown>): WebchatInboxSettings {
  const origins = raw.allowedOrigins ?? [];
  if (!Array.isArray(origins) || origins.length > 50) {
    throw new ValidationError('allowedOrigins must be a list of at most 50 origins', 'allowedOrigins');
  }
  const allowedOrigins = origins.map((origin, i) => originOf(origin, `allowedOrigins[${i}]`));
  const greetingRaw = raw.greeting ?? {};
  if (typeof greetingRaw !== 'object' || greetingRaw === null || Array.isArray(greetingRaw)) {
    throw new ValidationError('greeting must map locales to texts, e.g. { "de": "Hallo!" }', 'greeting');
  }
  const greeting: Record<string, string> = {};
  for (const [locale, text] of Object.entries(greetingRaw)) {
    if (!LOCALE.test(locale)) {
      throw new ValidationError(`greeting: "${locale}" is not a locale like "de" or "de-CH"`, 'greeting');
    }
    if (typeof text !== 'string' || !text.trim() || text.length > 500) {
      throw new ValidationError(`greeting.${locale} must be a text of 1 to 500 characters`, 'greeting');
    }
    greeting[locale] = text.trim();
  }
  const verify = raw.requireIdentityVerification ?? true;
  if (typeof verify !== 'boolean') {
    throw new ValidationError(
      'requireIdentityVerification must be true or false',
      'requireIdentityVerification',
    );
  }
  return { allowedOrigins: [...new Set(allowedOrigins)], greeting, requireIdentityVerification: verify };
}

/** Exactly an origin: scheme, host and port, no path; what browsers send in `Origin`. */
function originOf(value: unknown, field: string): string {
  let url: URL | null = null;
  try {
    url = typeof value === 'string' ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (
    !url ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.origin !== String(value).replace(/\/$/, '')
  ) {
    throw new ValidationError(`${field} must be an origin like "https://shop.example" (no path)`, field);
  }
  return url.origin;
}

/** The greeting for a locale: exact, then its primary tag (`de-CH` → `de`), then English, then any. */
export function greetingFor(
  settings: WebchatInboxSettings,
  locale: string | null | undefined,
): string | null {
  const { greeting } = settings;
  const wanted = locale?.trim() ?? '';
  const primary = wanted.split('-')[0]?.toLowerCase() ?? '';
  return greeting[wanted] ?? greeting[primary] ?? greeting.en ?? Object.values(greeting)[0] ?? null;
}
