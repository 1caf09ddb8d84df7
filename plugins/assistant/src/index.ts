import { definePlugin, type JobDefinition } from '@atrium/core';
import { type AssistantConfig, type AssistantOptions, assistantConfig } from './config.ts';
import { embedChangedDocuments, embeddingJobs } from './embedding-jobs.ts';
import {
  AssistantAnswer,
  AssistantEmbedding,
  AssistantGapQuestion,
  AssistantKnowledgeGap,
  AssistantMemory,
  AssistantPolicy,
  AssistantToolCall,
} from './entities.ts';
import { answerReceivedMessages, forgetOnConsentWithdrawn } from './events.ts';
import { GAP_QUEUE, knowledgeGapJob } from './gaps.ts';
import { assistantMigrations } from './migrations.ts';
import { eraseAssistantAnswers, exportAssistantAnswers } from './privacy.ts';
import { assistantSchema } from './schema.ts';
import { ANSWER_QUEUE, type AnswerJob, answerInConversation } from './service.ts';

export { AI_DISCLOSURE, type AnswerOutcome, type AskInput, answerQuestion } from './answer.ts';
export type { AssistantConfig, AssistantOptions } from './config.ts';
export {
  AssistantAnswer,
  AssistantMemory,
  AssistantPolicy,
  AssistantToolCall,
  type CitedSource,
} from './entities.ts';
export { buildPrompt, OutputGuard } from './governance.ts';
export { currentPolicy, DEFAULT_POLICY, type Policy, updatePolicy } from './policy.ts';

const answerJob: JobDefinition<AssistantConfig, AnswerJob> = {
  handle: (data, ctx) => answerInConversation(ctx, data),
  retryLimit: 2,
  retryDelaySeconds: 5,
  // An answer on a slow CPU model can take a while; LLM_TIMEOUT_MS bounds the call itself.
  expireInSeconds: 900,
  concurrency: 2,
};

/**
 * The AI assistant: answers customers in every conversation channel and through GraphQL (streamed)
 * from the content its workspace's policy allows, cites its sources, refuses rather than guesses,
 * stores an explanation of every answer, and hands over to a person with a summary.
 */
export const assistantPlugin = definePlugin((_options: AssistantOptions = {}) => ({
  name: 'assistant',
  compatibility: '^1.0.0',
  config: assistantConfig,
  entities: [
    AssistantPolicy,
    AssistantAnswer,
    AssistantMemory,
    AssistantEmbedding,
    AssistantKnowledgeGap,
    AssistantGapQuestion,
    AssistantToolCall,
  ],
  migrations: assistantMigrations,
  schema: assistantSchema,
  events: [answerReceivedMessages, forgetOnConsentWithdrawn, embedChangedDocuments],
  jobs: {
    [ANSWER_QUEUE]: answerJob as JobDefinition<AssistantConfig>,
    [GAP_QUEUE]: knowledgeGapJob,
    ...embeddingJobs,
  },
  exportProfile: exportAssistantAnswers,
  eraseProfile: eraseAssistantAnswers,
}));
