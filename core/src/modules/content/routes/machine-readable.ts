import type Router from '@koa/router';
import type { Context } from 'koa';
import { RateLimiter } from '../../../http/rate-limit.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import { readChain } from '../delivery/locales.ts';
import { entryJsonLd, serializeJsonLd } from '../machine-readable/jsonld.ts';
import { type IndexItem, renderLlmsTxt } from '../machine-readable/llms-txt.ts';
import { renderMarkdownPage } from '../machine-readable/markdown-page.ts';
import {
  contentIn,
  etagOf,
  loadPublication,
  localesOf,
  type Publication,
} from '../machine-readable/publication.ts';
import { renderSitemap, type SitemapEntry } from '../machine-readable/sitemap.ts';
import { ContentUrls } from '../machine-readable/urls.ts';

const CACHE_CONTROL = 'public, max-age=300';
const formats = {
  jsonld: 'application/ld+json; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
} as const;

/**
 * Machine-readable content for search engines and AI agents, without credentials:
 * `GET /content/<workspace>/llms.txt`, `/content/<workspace>/sitemap.xml` and
 * `/content/<workspace>/<locale>/<entry-key>.jsonld|.md`. Only published, public, valid entries;
 * cached for five minutes with an ETag from the published versions (304 on If-None-Match).
 */
export function machineReadableRoutes(router: Router, runtime: ModuleRuntime): void {
  const limiter = new RateLimiter(runtime.settings.PUBLIC_CONTENT_RATE_PER_SECOND);
  const base = runtime.settings.PUBLIC_BASE_URL;

  const load = async (ctx: Context, key?: string): Promise<Publication | null> => {
    const wait = limiter.take(ctx.ip);
    if (wait > 0) {
      ctx.set('Retry-After', String(Math.max(1, Math.ceil(wait))));
      refuse(ctx, 429, 'RATE_LIMITED', 'too many requests from this address; retry later');
      return null;
    }
    const publication = await loadPublication(runtime.orm.em.fork(), ctx.params.workspace as string, { key });
    if (!publication) refuse(ctx, 404, 'NOT_FOUND', `no workspace "${ctx.params.workspace}"`);
    return publication;
  };

  router.get('/content/:workspace/llms.txt', async (ctx) => {
    const publication = await load(ctx);
    if (!publication) return;
    const items: IndexItem[] = [];
    for (const entry of publication.entries) {
      const locales = localesOf(entry, publication);
      const locale =
        publication.defaultLocale && locales.includes(publication.defaultLocale)
          ? publication.defaultLocale
          : locales[0];
      if (!locale) continue;
      const content = await contentIn(entry, publication, locale);
      if (content) items.push({ entry, locale, fields: content.fields });
    }
    const etag = etagOf(
      publication,
      items.map((i) => i.entry.id),
      ['llms.txt', base],
    );
    const urls = new ContentUrls(base, publication.workspace.slug);
    send(ctx, etag, publication, 'text/plain; charset=utf-8', () => renderLlmsTxt(publication, items, urls));
  });

  router.get('/content/:workspace/sitemap.xml', async (ctx) => {
    const publication = await load(ctx);
    if (!publication) return;
    const entries: SitemapEntry[] = [];
    for (const entry of publication.entries) {
      const locales: string[] = [];
      for (const locale of localesOf(entry, publication))
        if (await contentIn(entry, publication, locale)) locales.push(locale);
      if (locales.length) entries.push({ entry, locales });
    }
    const etag = etagOf(
      publication,
      entries.map((e) => e.entry.id),
      ['sitemap.xml', base],
    );
    const urls = new ContentUrls(base, publication.workspace.slug);
    send(ctx, etag, publication, 'application/xml; charset=utf-8', () =>
      renderSitemap(entries, urls, publication.defaultLocale),
    );
  });

  router.get('/content/:workspace/:locale/:file', async (ctx) => {
    const match = /^(.+)\.(jsonld|md)$/.exec(ctx.params.file as string);
    if (!match) {
      refuse(ctx, 404, 'NOT_FOUND', 'ask for <entry-key>.jsonld or <entry-key>.md');
      return;
    }
    const [, key, format] = match as unknown as [string, string, keyof typeof formats];
    const locale = ctx.params.locale as string;
    const publication = await load(ctx, key);
    if (!publication) return;
    const entry = publication.entries[0];
    const chain = readChain(publication.locales, locale);
    if (!chain) {
      refuse(ctx, 404, 'NOT_FOUND', `locale "${locale}" is not a locale of this workspace`);
      return;
    }
    const content = entry ? await contentIn(entry, publication, locale) : null;
    if (!entry || !content) {
      refuse(ctx, 404, 'NOT_FOUND', `no published public content "${key}"`);
      return;
    }
    const urls = new ContentUrls(base, publication.workspace.slug);
    const etag = etagOf(publication, [entry.id], [format, locale, base]);
    send(ctx, etag, publication, formats[format], () =>
      format === 'jsonld'
        ? serializeJsonLd(
            entryJsonLd(entry, content.fields, {
              locale,
              pageUrl: urls.entry(locale, key, 'md'),
              documentUrl: urls.entry(locale, key, 'jsonld'),
            }),
          )
        : renderMarkdownPage(entry, content.fields, urls.entry(locale, key, 'jsonld')),
    );
  });
}

function send(
  ctx: Context,
  etag: string,
  publication: Publication,
  type: string,
  render: () => string,
): void {
  ctx.set('Cache-Control', CACHE_CONTROL);
  ctx.set('ETag', etag);
  ctx.set('Access-Control-Allow-Origin', '*');
  ctx.set('X-Content-Type-Options', 'nosniff');
  const latest = Math.max(0, ...publication.entries.map((e) => e.publishedAt.getTime()));
  if (latest > 0) ctx.set('Last-Modified', new Date(latest).toUTCString());
  if (matchesEtag(ctx.get('if-none-match'), etag)) {
    ctx.status = 304;
    return;
  }
  ctx.type = type;
  ctx.body = render();
}

/** `If-None-Match` holds `*` or a list of tags, possibly weak (`W/"…"`): compare weakly, as RFC 9110 says for GET. */
function matchesEtag(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

function refuse(ctx: Context, status: number, code: string, error: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, code };
}
