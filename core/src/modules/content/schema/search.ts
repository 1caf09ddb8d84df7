import type { AtriumBuilder } from '../../../graphql/builder.ts';
import type { GraphQLContext } from '../../../graphql/context.ts';
import { workspaceIdOf } from '../../../graphql/helpers.ts';
import type { CoreRefs } from '../../../graphql/refs.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import type { SearchFilters, SearchHit, SearchResult } from '../../../search/engine.ts';
import { CONTENT_COLLECTION } from '../search/source.ts';

const both = ['admin', 'public'] as const;

/** Staff search every collection; a frontend's read key finds public content only. */
const searchScopes = (_root: unknown, _args: unknown, ctx: GraphQLContext) =>
  ctx.graph === 'public' ? { reader: true } : { viewer: true };

/** `search(query, collections, filters, locale)` over the search port, with highlights. */
export function searchSchema(builder: AtriumBuilder, _refs: CoreRefs, runtime: ModuleRuntime): void {
  const HitRef = builder.objectRef<SearchHit>('SearchHit').implement({
    subGraphs: [...both],
    fields: (t) => ({
      id: t.exposeString('id', { description: 'The id of the thing found, e.g. a content entry id' }),
      collection: t.exposeString('collection'),
      locale: t.exposeString('locale', { nullable: true }),
      score: t.exposeFloat('score', { description: 'Relevance in 0..1, comparable within one result' }),
      highlights: t.field({
        type: 'JSON',
        description: 'Field → fragment with the matches in <mark>…</mark>',
        resolve: (h) => h.highlights,
      }),
    }),
  });
  const ResultRef = builder.objectRef<SearchResult>('SearchResult').implement({
    subGraphs: [...both],
    fields: (t) => ({
      hits: t.field({ type: [HitRef], resolve: (r) => r.hits }),
      total: t.exposeInt('total'),
      tookMs: t.exposeFloat('tookMs'),
    }),
  });

  builder.queryField('search', (t) =>
    t.field({
      type: ResultRef,
      subGraphs: [...both],
      description: 'Full-text search with typo tolerance, stemming per locale and filters',
      authScopes: searchScopes,
      args: {
        query: t.arg.string({ required: true }),
        collections: t.arg.stringList({ required: false }),
        filters: t.arg({ type: 'JSON', required: false, description: 'attribute → value or list of values' }),
        locale: t.arg.string({ required: false }),
        first: t.arg.int({ required: false }),
        offset: t.arg.int({ required: false }),
      },
      resolve: (_root, args, ctx) => {
        const filters = { ...((args.filters as SearchFilters | null) ?? {}) };
        const publicSide = ctx.graph === 'public';
        // The Public graph reads published public content, whatever the caller asks for.
        if (publicSide) filters.visibility = 'public';
        return runtime.search.search({
          workspaceId: workspaceIdOf(ctx),
          collections: publicSide ? [CONTENT_COLLECTION] : (args.collections ?? undefined),
          query: args.query,
          filters,
          locale: args.locale ?? undefined,
          limit: args.first ?? undefined,
          offset: args.offset ?? undefined,
        });
      },
    }),
  );
}
