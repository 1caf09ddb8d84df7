import type { DataSubjectContext } from '@atrium/core';
import type { AssistantConfig } from './config.ts';
import { AssistantAnswer, AssistantMemory } from './entities.ts';

/** GDPR export: what the assistant remembers, the person's questions and its answers with explanations. */
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
  return {
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

/** GDPR erasure, in the erasure's transaction: the person's memories, questions and answers go. */
export async function eraseAssistantAnswers(
  _profileId: string,
  ctx: DataSubjectContext<AssistantConfig>,
): Promise<number> {
  const where = { workspace: ctx.workspaceId, profileId: { $in: ctx.profileIds } };
  const memories = await ctx.em.nativeDelete(AssistantMemory, where, { filters: false });
  return memories + (await ctx.em.nativeDelete(AssistantAnswer, where, { filters: false }));
}
