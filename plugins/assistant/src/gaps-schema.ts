import {
  type AtriumBuilder,
  type CoreRefs,
  enumValues,
  type GraphQLContext,
  type ModuleRuntime,
  NotFoundError,
  ValidationError,
  workspaceIdOf,
} from '@atrium/core';
import { encodeGlobalID, resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AssistantConfig } from './config.ts';
import { gapMethods, gapStatuses } from './entities.ts';
import { draftArticleFromGap, type GapDraft } from './gap-drafts.ts';
import {
  dismissGap,
  type GapRefresh,
  type GapView,
  KnowledgeGapStateError,
  listGaps,
  refreshKnowledgeGaps,
} from './gaps.ts';

/**
 * Admin graph, editors: the questions the assistant could not answer, grouped into knowledge
 * gaps, and the two decisions on one — dismiss it, or draft a knowledge-base article from it.
 */
export function knowledgeGapSchema(
  builder: AtriumBuilder,
  refs: CoreRefs,
  runtime: ModuleRuntime<AssistantConfig>,
): void {
  const Status = builder.enumType('KnowledgeGapStatus', {
    description:
      'OPEN: waiting for an editor; DRAFTED: an article draft was made from it; DISMISSED: no article needed',
    values: enumValues(gapStatuses),
  });
  const Method = builder.enumType('KnowledgeGapMethod', {
    description: 'How questions were compared: EMBEDDINGS (an embedding model is configured) or KEYWORDS',
    values: enumValues(gapMethods),
  });

  builder.objectType(KnowledgeGapStateError, {
    name: 'KnowledgeGapStateError',
    description: 'The gap’s status does not allow this (drafted already, or not open): nothing changed',
    interfaces: [refs.Error],
    isTypeOf: (value) => value instanceof KnowledgeGapStateError,
    fields: (t) => ({ status: t.field({ type: Status, resolve: (e) => e.status }) }),
  });

  const GapRef = builder.objectRef<GapView>('KnowledgeGap').implement({
    description: 'Similar customer questions the assistant could not answer from the knowledge base',
    fields: (t) => ({
      id: t.globalID({ resolve: (v) => ({ type: 'KnowledgeGap', id: v.gap.id }) }),
      label: t.string({ description: 'The words its questions share most', resolve: (v) => v.gap.label }),
      status: t.field({ type: Status, resolve: (v) => v.gap.status }),
      method: t.field({ type: Method, resolve: (v) => v.gap.method }),
      questionCount: t.int({ resolve: (v) => v.gap.questionCount }),
      sampleQuestions: t.stringList({
        description: 'The newest questions, as customers wrote them',
        resolve: (v) => v.samples,
      }),
      firstAskedAt: t.field({ type: 'DateTime', resolve: (v) => v.gap.firstAskedAt }),
      lastAskedAt: t.field({ type: 'DateTime', resolve: (v) => v.gap.lastAskedAt }),
      draftEntryId: t.id({
        nullable: true,
        description: 'The knowledge-base entry drafted from it (`entry(id:)`)',
        resolve: (v) => (v.gap.entryId ? encodeGlobalID('ContentEntry', v.gap.entryId) : null),
      }),
      decidedBy: t.string({ nullable: true, resolve: (v) => v.gap.decidedBy ?? null }),
      decidedAt: t.field({ type: 'DateTime', nullable: true, resolve: (v) => v.gap.decidedAt ?? null }),
    }),
  });

  builder.queryField('knowledgeGaps', (t) =>
    t.connection({
      type: GapRef,
      description: 'Knowledge gaps, the most asked first; of one status when given',
      authScopes: { editor: true },
      args: { status: t.arg({ type: Status, required: false }) },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, ({ limit, offset }) =>
          listGaps(ctx.em, workspaceIdOf(ctx), { status: args.status ?? null, limit, offset }),
        ),
    }),
  );

  const RefreshPayload = builder.objectRef<GapRefresh>('RefreshKnowledgeGapsPayload').implement({
    fields: (t) => ({
      questions: t.exposeInt('questions', { description: 'Unanswered questions read now' }),
      newGaps: t.exposeInt('newGaps'),
      method: t.field({ type: Method, resolve: (r) => r.method }),
      notice: t.exposeString('notice', {
        nullable: true,
        description: 'Why questions were compared by keywords when embeddings were wanted',
      }),
    }),
  });
  builder.mutationField('refreshKnowledgeGaps', (t) =>
    t.field({
      type: RefreshPayload,
      description:
        'Groups the unanswered questions no run has read yet into gaps now (a job also does it every 15 minutes)',
      authScopes: { editor: true },
      resolve: (_root, _args, ctx) =>
        refreshKnowledgeGaps(
          { em: ctx.em, llm: runtime.llm, config: runtime.config, logger: runtime.logger },
          workspaceIdOf(ctx),
        ),
    }),
  );

  builder.relayMutationField(
    'dismissKnowledgeGap',
    { inputFields: (t) => ({ id: t.globalID({ required: true }) }) },
    {
      description: 'An open gap needs no article; similar questions keep joining it without reopening it',
      authScopes: { editor: true },
      errors: { types: [NotFoundError, KnowledgeGapStateError] },
      resolve: async (_root, { input }, ctx) => ({
        gap: await dismissGap(ctx.em, workspaceIdOf(ctx), gapIdOf(input.id), subjectOf(ctx)),
      }),
    },
    { outputFields: (t) => ({ gap: t.field({ type: GapRef, resolve: (p) => p.gap }) }) },
  );

  const DraftMode = builder.enumType('KnowledgeGapDraftMode', {
    description:
      'GENERATED: the LLM proposed question and answer (an AI draft to check); OUTLINE: the questions, to answer',
    values: ['GENERATED', 'OUTLINE'] as const,
  });
  builder.relayMutationField(
    'draftKnowledgeArticleFromGap',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true }),
        locale: t.string({ required: false, description: 'The workspace’s default locale when absent' }),
      }),
    },
    {
      description:
        'Creates a DRAFT knowledge-base article (kb_article) from the gap for the review workflow; it is never published here',
      authScopes: { editor: true },
      errors: { types: [NotFoundError, KnowledgeGapStateError, ValidationError] },
      resolve: (_root, { input }, ctx) =>
        draftArticleFromGap(
          { em: ctx.em, llm: runtime.llm, config: runtime.config },
          {
            workspaceId: workspaceIdOf(ctx),
            gapId: gapIdOf(input.id),
            locale: input.locale ?? null,
            actor: { subject: subjectOf(ctx), scopes: ctx.principal?.scopes ?? [] },
          },
        ),
    },
    {
      outputFields: (t) => ({
        gap: t.field({ type: GapRef, resolve: (d: GapDraft) => d }),
        entryId: t.id({
          description: 'The draft entry (`entry(id:)`)',
          resolve: (d: GapDraft) => encodeGlobalID('ContentEntry', d.entryId),
        }),
        mode: t.field({
          type: DraftMode,
          resolve: (d: GapDraft) => (d.mode === 'generated' ? 'GENERATED' : 'OUTLINE'),
        }),
        model: t.string({
          nullable: true,
          description: 'The model that wrote it',
          resolve: (d: GapDraft) => d.model,
        }),
      }),
    },
  );
}

function gapIdOf(id: { typename: string; id: string }): string {
  if (id.typename !== 'KnowledgeGap') throw new NotFoundError('the knowledge gap');
  return id.id;
}

function subjectOf(ctx: GraphQLContext): string {
  return ctx.principal?.subject ?? 'unknown';
}
