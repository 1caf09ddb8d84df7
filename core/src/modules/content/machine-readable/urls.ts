/** Where the machine-readable documents of an entry and a workspace live, from `PUBLIC_BASE_URL`. */
export class ContentUrls {
  readonly #base: string;
  readonly #slug: string;

  constructor(baseUrl: string, workspaceSlug: string) {
    this.#base = baseUrl.replace(/\/+$/, '');
    this.#slug = encodeURIComponent(workspaceSlug);
  }

  /** `.md` is the readable page an index links to; `.jsonld` the structured data beside it. */
  entry(locale: string, key: string, format: 'md' | 'jsonld'): string {
    return `${this.#base}/content/${this.#slug}/${encodeURIComponent(locale)}/${encodeURIComponent(key)}.${format}`;
  }

  workspace(file: 'llms.txt' | 'sitemap.xml'): string {
    return `${this.#base}/content/${this.#slug}/${file}`;
  }
}
