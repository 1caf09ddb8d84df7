import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationError } from '../../../kernel/errors.ts';
import { ContentLocale, type ContentLocaleEntity } from '../entities.ts';

const LOCALE_CODE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

export async function listLocales(em: EntityManager): Promise<ContentLocaleEntity[]> {
  return em.find(ContentLocale, {}, { orderBy: { code: 'asc' } });
}

/** The locales a read of `code` tries, in order: `de-CH → de → en`. */
/** `de-CH → de → en`: each locale's explicit fallback in turn; a cycle stops at the first repeat. */
export function fallbackChain(
  locales: readonly { code: string; fallback?: string | null }[],
  code: string,
): string[] {
  const byCode = new Map(locales.map((l) => [l.code, l]));
  const chain: string[] = [];
  for (let at: string | null | undefined = code; at && !chain.includes(at); at = byCode.get(at)?.fallback)
    chain.push(at);
  return chain;
}

export function defaultLocale(locales: readonly ContentLocaleEntity[]): ContentLocaleEntity | null {
  return locales.find((l) => l.isDefault) ?? null;
}

/**
 * The chain for a read in `code` (the default locale when none is given); a locale the
 * workspace does not have is a typed error, so that frontends notice a typo.
 */
export async function chainFor(em: EntityManager, code: string | null | undefined): Promise<string[]> {
  const locales = await listLocales(em);
  const wanted = code ?? defaultLocale(locales)?.code;
  if (!wanted)
    throw new ValidationError('this workspace has no locales yet: add one with setLocale', 'locale');
  if (!locales.some((l) => l.code === wanted))
    throw new ValidationError(`locale: "${wanted}" is not a locale of this workspace`, 'locale');
  return fallbackChain(locales, wanted);
}

export interface LocaleInput {
  code: string;
  fallback?: string | null;
  isDefault?: boolean | null;
}

/** Adds or changes a locale; a fallback must exist and must not lead back to the locale. */
export async function setLocale(em: EntityManager, workspaceId: string, input: LocaleInput) {
  if (!LOCALE_CODE.test(input.code))
    throw new ValidationError('code: a language tag such as en, de or de-CH', 'code');
  return em.transactional(async (tem) => {
    const locales = await listLocales(tem);
    const fallback = input.fallback || null;
    if (fallback) {
      if (fallback === input.code)
        throw new ValidationError('fallback: a locale cannot fall back to itself', 'fallback');
      if (!locales.some((l) => l.code === fallback))
        throw new ValidationError(`fallback: "${fallback}" is not a locale of this workspace`, 'fallback');
      const chain = fallbackChain(locales, fallback);
      if (chain.includes(input.code))
        throw new ValidationError(
          `fallback: ${[input.code, ...chain, input.code].join(' → ')} would be a cycle`,
          'fallback',
        );
    }
    let locale = locales.find((l) => l.code === input.code);
    if (!locale) {
      locale = tem.create(ContentLocale, { workspace: workspaceId, code: input.code, fallback });
      locales.push(locale);
    }
    locale.fallback = fallback;
    // The first locale is the default; a new default replaces the old one.
    if (input.isDefault || !defaultLocale(locales)) for (const l of locales) l.isDefault = l === locale;
    else if (input.isDefault === false && locale.isDefault)
      throw new ValidationError('isDefault: make another locale the default instead', 'isDefault');
    await tem.flush();
    return locale;
  });
}
