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
  /**
   * With an embedding model (OLLAMA_EMBED_MODEL): least cosine similarity between the question's and
   * a document's embedding for the document to count when it shares too few of the question's words.
   * Scales differ by model: 0.7 suits dedicated embedding models (nomic-embed-text, mxbai-embed-large).
   */
  minSimilarity: z.number().min(0).max(1).default(0.7),
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
  /**
   * Knowledge gaps, keyword clustering: least share of shared words (Jaccard of the questions'
   * stemmed keywords, averaged over the gap's recent questions) for a question to join a gap.
   */
  gapKeywordSimilarity: z.number().min(0.05).max(1).default(0.3),
  /**
   * Knowledge gaps with an embedding model: least cosine similarity (averaged the same way). It
   * depends on the model: dedicated embedding models spread wider than chat models.
   */
  gapEmbeddingSimilarity: z.number().min(0).max(1).default(0.8),
  /** Most tokens the model writes for a draft article made from a knowledge gap. */
  maxDraftTokens: z.number().int().min(32).max(4096).default(400),
});

export type AssistantOptions = z.input<typeof assistantConfig>;
export type AssistantConfig = z.output<typeof assistantConfig>;
