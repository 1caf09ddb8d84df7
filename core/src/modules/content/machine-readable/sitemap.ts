import type { PublishedEntry } from '../delivery/published.ts';
import type { ContentUrls } from './urls.ts';

export interface SitemapEntry {
  entry: PublishedEntry;
  locales: string[];
}

/**
 * A sitemap (sitemaps.org 0.9) with one `<url>` per entry and locale, `lastmod` from the
 * publication time, and `xhtml:link` hreflang alternates between an entry's locales.
 */
export function renderSitemap(
  entries: SitemapEntry[],
  urls: ContentUrls,
  defaultLocale: string | null,
): string {
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">',
  ];
  for (const { entry, locales } of entries) {
    const alternates = locales.length > 1 ? locales : [];
    const fallback = defaultLocale && locales.includes(defaultLocale) ? defaultLocale : null;
    for (const locale of locales) {
      out.push('  <url>');
      out.push(`    <loc>${xml(urls.entry(locale, entry.key, 'md'))}</loc>`);
      out.push(`    <lastmod>${entry.publishedAt.toISOString()}</lastmod>`);
      for (const other of alternates)
        out.push(
          `    <xhtml:link rel="alternate" hreflang="${xml(other)}" href="${xml(urls.entry(other, entry.key, 'md'))}"/>`,
        );
      if (alternates.length && fallback)
        out.push(
          `    <xhtml:link rel="alternate" hreflang="x-default" href="${xml(urls.entry(fallback, entry.key, 'md'))}"/>`,
        );
      out.push('  </url>');
    }
  }
  out.push('</urlset>');
  return `${out.join('\n')}\n`;
}

function xml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
