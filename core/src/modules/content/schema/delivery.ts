import { resolveArrayConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../../graphql/builder.ts';
import type { GraphQLContext } from '../../../graphql/context.ts';
import { workspaceIdOf } from '../../../graphql/helpers.ts';
import type { CoreRefs } from '../../../graphql/refs.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import { type BlockChoice, type ResolvedContent, resolveContent } from '../delivery/resolve.ts';
import {
  ensureKnowledgeBaseType,
  type KnowledgeArticle,
  knowledgeArticles,
} from '../knowledge/knowledge-base.ts';

const both = ['admin', 'public'] as const;

/** Staff see internal content on the Admin graph; the Public graph never shows it. */
const seesInternal = (ctx: GraphQLContext) =>
  ctx.graph === 'admin' &&
  (ctx.principal?.scopes.some((s) => s === 'agent' || s === 'editor' || s === 'admin') ?? false);

/** Admin graph: agents and editors; Public graph: a frontend's read key (`reader`) or any staff role. */
const readerScopes = (_root: unknown, _args: unknown, ctx: GraphQLContext) =>
  ctx.graph === 'public' ? { reader: true } : { agent: true, editor: true };

/** Personalized delivery (`resolveContent`) and the knowledge base, on both graphs. */
export function deliverySchema(builder: AtriumBuilder, refs: CoreRefs, runtime: ModuleRuntime): void {
  const VariantChoiceRef = builder.objectRef<{ key: string }>('ContentVariantChoice').implement({
    subGraphs: [...both],
    description: 'The variant chosen for the reader',
    fields: (t) => ({ key: t.exposeString('key') }),
  });

  const BlockChoiceRef = builder.objectRef<BlockChoice>('ContentBlockChoice').implement({
    subGraphs: [...both],
    description: 'A block with variants: which one the reader got, and why',
    fields: (t) => ({
      path: t.exposeString('path', { description: 'Where the block sits, e.g. body[2]' }),
      type: t.exposeString('type', { description: 'The block type key' }),
      id: t.exposeString('id', { nullable: true }),
      variant: t.field({ type: VariantChoiceRef, nullable: true, resolve: (b) => b.variant }),
      reason: t.exposeString('reason'),
    }),
  });

  const ResolvedContentRef = builder.objectRef<ResolvedContent>('ResolvedContent').implement({
    subGraphs: [...both],
    description: 'Published content as one reader gets it: variant chosen, locale fallback applied',
    fields: (t) => ({
      key: t.string({ resolve: (r) => r.entry.key }),
      typeKey: t.string({ resolve: (r) => r.entry.type.key }),
      version: t.int({ description: 'The published version', resolve: (r) => r.version.version }),
      locale: t.exposeString('locale', { description: 'The locale asked for' }),
      fields: t.field({
        type: 'JSON',
        description: 'Field values, blocks resolved',
        resolve: (r) => r.fields,
      }),
      fieldLocales: t.field({
        type: 'JSON',
        description: 'The locale each value came from along the fallback chain (`*` for shared fields)',
        resolve: (r) => r.fieldLocales,
      }),
      variant: t.field({ type: VariantChoiceRef, nullable: true, resolve: (r) => r.variant }),
      reason: t.exposeString('reason', {
        description: 'Why: `profile is in segment "vip"`, `traits matched plan equals "pro"`, or the default',
      }),
      blocks: t.field({
        type: [BlockChoiceRef],
        description: 'Choices made for blocks with variants',
        resolve: (r) => r.blocks,
      }),
      publishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.entry.publishedAt ?? null }),
    }),
  });

  builder.queryField('resolveContent', (t) =>
    t.field({
      type: ResolvedContentRef,
      subGraphs: [...both],
      description:
        'The published content of `key` for a profile (or nobody) in a locale, with the variant chosen and why',
      authScopes: readerScopes,
      errors: { types: [ValidationError, NotFoundError], union: { subGraphs: [...both] } },
      args: {
        key: t.arg.string({ required: true }),
        locale: t.arg.string({ required: true }),
        profileId: t.arg.globalID({ for: refs.Profile, required: false }),
      },
      resolve: (_root, args, ctx) =>
        resolveContent(ctx.em, workspaceIdOf(ctx), args.key, {
          locale: args.locale,
          profileId: args.profileId?.id ?? null,
          includeInternal: seesInternal(ctx),
          operators: runtime.segmentOperators,
        }),
    }),
  );

  const KnowledgeArticleRef = builder.objectRef<KnowledgeArticle>('KnowledgeArticle').implement({
    subGraphs: [...both],
    description: 'A published knowledge-base article in a locale; internal ones reach agents only',
    fields: (t) => ({
      key: t.exposeString('key'),
      internal: t.boolean({ resolve: (a) => a.visibility === 'internal' }),
      question: t.exposeString('question'),
      answer: t.field({ type: 'JSON', description: 'The rich-text tree', resolve: (a) => a.answer }),
      answerText: t.exposeString('answerText'),
      answerMarkdown: t.exposeString('answerMarkdown'),
      relatedProducts: t.exposeStringList('relatedProducts'),
      relatedCategories: t.exposeStringList('relatedCategories'),
      validFrom: t.exposeString('validFrom', { nullable: true }),
      validUntil: t.exposeString('validUntil', { nullable: true }),
      locale: t.exposeString('locale', {
        description: 'Where the question came from along the fallback chain',
      }),
      tags: t.exposeStringList('tags'),
      publishedAt: t.expose('publishedAt', { type: 'DateTime' }),
      score: t.exposeInt('score', { description: 'Word overlap with the query; 0 without one' }),
    }),
  });

  builder.queryField('knowledgeArticles', (t) =>
    t.connection(
      {
        type: KnowledgeArticleRef,
        subGraphs: [...both],
        description:
          'Published, valid knowledge-base articles, best match first; internal ones only for agents on the Admin graph',
        authScopes: readerScopes,
        args: {
          query: t.arg.string({ required: false }),
          locale: t.arg.string({ required: true }),
          includeInternal: t.arg.boolean({ required: false, defaultValue: false }),
        },
        resolve: async (_root, args, ctx) => {
          const articles = await knowledgeArticles(ctx.em, workspaceIdOf(ctx), {
            query: args.query,
            locale: args.locale,
            includeInternal: !!args.includeInternal && seesInternal(ctx),
            limit: 100,
          });
          return resolveArrayConnection({ args }, articles);
        },
      },
      { subGraphs: [...both] },
      { subGraphs: [...both] },
    ),
  );

  const EnsurePayload = builder
    .objectRef<{ typeId: string; created: boolean }>('EnsureKnowledgeBaseTypePayload')
    .implement({
      fields: (t) => ({
        typeKey: t.string({ resolve: () => 'kb_article' }),
        created: t.exposeBoolean('created', { description: 'False when the workspace had it already' }),
      }),
    });

  builder.mutationField('ensureKnowledgeBaseType', (t) =>
    t.field({
      type: EnsurePayload,
      description: 'Creates the kb_article content type in this workspace unless it exists',
      authScopes: { editor: true },
      resolve: async (_root, _args, ctx) => {
        const { id, created } = await ensureKnowledgeBaseType(ctx.em, workspaceIdOf(ctx));
        return { typeId: id, created };
      },
    }),
  );
}
