import { z } from 'zod';

/** Options of the assistant plugin; the governance policy itself is per workspace, in the database. */
export const assistantConfig = z.object({
  /** Passages given to the model (and cited) at most. */
  maxSources: z.number().int().min(1).max(10).default(3),
  /**
   * Least share of the question's words a passage must contain to count as relevant. Below it on
   * every passage, the assistant says it found nothing and hands off instead of guessing.
   */
  minCoverage: z.number().min(0.01).max(1).default(0.34),
  /** Answers whose confidence is below this hand the conversation to a human. */
  handoffBelowConfidence: z.number().min(0).max(1).default(0.5),
  /** Sentiment (−1 … 1) at or below which a conversation goes to a human. */
  handoffBelowSentiment: z.number().min(-1).max(0).default(-0.5),
  /** Most tokens the model writes for one answer. */
  maxAnswerTokens: z.number().int().min(16).max(4096).default(256),
  /** Most tokens the model writes for a conversation summary (agent assist). */
  maxSummaryTokens: z.number().int().min(16).max(4096).default(160),
  /** Answer customers in conversations (off: only through GraphQL). */
  answerConversations: z.boolean().default(true),
});

export type AssistantOptions = z.input<typeof assistantConfig>;
export type AssistantConfig = z.output<typeof assistantConfig>;
