import type { DataSubjectContext } from '@atrium/core';
import type { AssistantConfig } from './config.ts';
import { eraseEmbeddingsOf } from './embeddings.ts';
import { AssistantAnswer, AssistantMemory, AssistantToolCall } from './entities.ts';
import { eraseGapQuestionsOf, exportGapQuestionsOf } from './gaps.ts';

/**
 * GDPR export: what the assistant remembers, the actions it took or proposed for the person, the
 * person's questions and its answers with explanations, and the unanswered questions read into
 * knowledge gaps.
 */
export async function exportAssistantAnswers(
  _profileId: string,
  ctx: DataSubjectContext<AssistantConfig>,
): Promise<Record<string, unknown>> {
  const answers = await ctx.em.find(
    AssistantAnswer,
    { workspace: ctx.workspaceId, profileId: { $in: ctx.profileIds } },
    { orderBy: { createdAt: 'asc', id: 'asc' }, filters: false },
  );
  const memories = await ctx.em.find(
    AssistantMemory,
    { workspace: ctx.workspaceId, profileId: { $in: ctx.profileIds } },
    { orderBy: { createdAt: 'asc', id: 'asc' }, filters: false },
  );
  const knowledgeGapQuestions = await exportGapQuestionsOf(ctx.em, ctx.workspaceId, ctx.profileIds);
  const actions = await ctx.em.find(
    AssistantToolCall,
    { workspace: ctx.workspaceId, profileId: { $in: ctx.profileIds } },
    { orderBy: { requestedAt: 'asc', id: 'asc' }, filters: false },
  );
  return {
    actions: actions.map((c) => ({
      tool: c.tool,
      arguments: c.args,
      status: c.status,
      summary: c.summary,
      requestedAt: c.requestedAt,
      decidedAt: c.decidedAt,
    })),
    knowledgeGapQuestions,
    memories: memories.map((m) => ({ kind: m.kind, text: m.text, source: m.source, createdAt: m.createdAt })),
    answers: answers.map((a) => ({
      question: a.question,
      answer: a.answer,
      mode: a.mode,
      sources: a.sources,
      policyVersion: a.policyVersion,
      rulesApplied: a.rulesApplied,
      model: a.model,
      confidence: a.confidence,
      createdAt: a.createdAt,
    })),
  };
}

/**
 * GDPR erasure, in the erasure's transaction: the person's memories, actions, questions, answers
 * and embeddings of documents about them go.
 */
export async function eraseAssistantAnswers(
  _profileId: string,
  ctx: DataSubjectContext<AssistantConfig>,
): Promise<number> {
  const where = { workspace: ctx.workspaceId, profileId: { $in: ctx.profileIds } };
  const memories = await ctx.em.nativeDelete(AssistantMemory, where, { filters: false });
  // The actions' arguments may hold what the person typed (an address, an order number).
  const actions = await ctx.em.nativeDelete(AssistantToolCall, where, { filters: false });
  const embeddings = await eraseEmbeddingsOf(ctx.em, ctx.workspaceId, ctx.profileIds);
  // Before the answers: the gaps they were read into are summarised again without them.
  const gapQuestions = await eraseGapQuestionsOf(ctx.em, ctx.workspaceId, ctx.profileIds);
  return (
    memories +
    actions +
    embeddings +
    gapQuestions +
    (await ctx.em.nativeDelete(AssistantAnswer, where, { filters: false }))
  );
}
