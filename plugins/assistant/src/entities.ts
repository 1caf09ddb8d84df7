import { belongsToWorkspace, createdAtColumn, idColumn, updatedAtColumn } from '@atrium/core';
import { defineEntity, p } from '@mikro-orm/postgresql';

/**
 * One version of a workspace's governance policy. Versions are never changed: an edit adds the
 * next version, so every stored answer names the exact rules it was given.
 */
export const AssistantPolicy = defineEntity({
  name: 'AssistantPolicy',
  tableName: 'assistant_policy',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    version: p.integer(),
    /** Brand voice: how answers sound, e.g. "friendly, concise, informal (du)". */
    tone: p.string().length(500),
    wordsToUse: p.array().default([]),
    wordsToAvoid: p.array().default([]),
    /** Search collections answers may come from (e.g. `content`); nothing else is ever retrieved. */
    allowedCollections: p.array(),
    /** Topics the assistant never answers; a question about one goes to a human. */
    blockedTopics: p.array().default([]),
    /** Topics a human must handle even when an answer exists (e.g. "legal", "cancellation"). */
    handoffTopics: p.array().default([]),
    /** Sentences appended to every answer, as written. */
    disclaimers: p.array().default([]),
    /** Language tags the assistant answers in; empty means any. Others go to a human. */
    languages: p.array().default([]),
    /** Assistant tools (plugins register them) the assistant may offer; empty: none. */
    allowedTools: p.array().default([]),
    createdBy: p.string().length(200).nullable(),
    createdAt: createdAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'version'] }],
});

export type AssistantPolicyEntity = InstanceType<typeof AssistantPolicy.class>;

export const answerModes = ['generated', 'extractive', 'refused', 'handed_off', 'action'] as const;
export type AnswerMode = (typeof answerModes)[number];

export interface CitedSource {
  /** 1-based, as the answer cites it: [1]. */
  ref: number;
  collection: string;
  documentId: string;
  locale: string | null;
  title: string;
  /** The share of the question's words the passage contains (0 … 1). */
  coverage: number;
}

/** The explanation of one answer: what it was built from, under which rules, by which model. */
export const AssistantAnswer = defineEntity({
  name: 'AssistantAnswer',
  tableName: 'assistant_answer',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    profileId: p.uuid().nullable(),
    conversationId: p.uuid().nullable(),
    /** The customer's message this answers (conversations), unique: one answer per message. */
    questionMessageId: p.uuid().nullable().unique(),
    replyMessageId: p.uuid().nullable(),
    question: p.text(),
    answer: p.text(),
    mode: p.enum(answerModes),
    sources: p.json<CitedSource[]>().default('[]'),
    policyVersion: p.integer(),
    rulesApplied: p.array().default([]),
    model: p.string().length(200).nullable(),
    confidence: p.float(),
    handoffReason: p.string().length(100).nullable(),
    createdAt: createdAtColumn(),
  },
  indexes: [{ properties: ['workspace', 'conversationId'] }, { properties: ['workspace', 'profileId'] }],
});

export type AssistantAnswerEntity = InstanceType<typeof AssistantAnswer.class>;

export const memoryKinds = ['fact', 'preference'] as const;
export type MemoryKind = (typeof memoryKinds)[number];

/**
 * What the assistant remembers about a person across sessions and channels, kept only while the
 * person grants `ai_memory`; they and agents can read, correct and delete each item.
 */
export const AssistantMemory = defineEntity({
  name: 'AssistantMemory',
  tableName: 'assistant_memory',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    profileId: p.uuid(),
    kind: p.enum(memoryKinds),
    text: p.string().length(500),
    /** Who wrote or last corrected it: `customer`, `agent:<subject>` or `assistant`. */
    source: p.string().length(200),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  indexes: [{ properties: ['workspace', 'profileId'] }],
});

export type AssistantMemoryEntity = InstanceType<typeof AssistantMemory.class>;

export const gapStatuses = ['open', 'drafted', 'dismissed'] as const;
export type GapStatus = (typeof gapStatuses)[number];
export const gapMethods = ['keywords', 'embeddings'] as const;
export type GapMethod = (typeof gapMethods)[number];

/**
 * A knowledge gap: similar questions the assistant could not answer from the knowledge base,
 * offered to editors as a draft article. Label, count and dates are derived from its questions
 * (`AssistantGapQuestion`) and recomputed when one is erased.
 */
export const AssistantKnowledgeGap = defineEntity({
  name: 'AssistantKnowledgeGap',
  tableName: 'assistant_knowledge_gap',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    /** The words its questions share most, e.g. "gift · wrapping". */
    label: p.string().length(200),
    status: p.enum(gapStatuses),
    /** How its questions were compared when the last one joined. */
    method: p.enum(gapMethods),
    questionCount: p.integer(),
    firstAskedAt: p.datetime(),
    lastAskedAt: p.datetime(),
    /** The draft knowledge-base entry made from it (status `drafted`). */
    entryId: p.uuid().nullable(),
    /** Who drafted or dismissed it. */
    decidedBy: p.string().length(200).nullable(),
    decidedAt: p.datetime().nullable(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
  indexes: [{ properties: ['workspace', 'status', 'questionCount'] }],
});

export type AssistantKnowledgeGapEntity = InstanceType<typeof AssistantKnowledgeGap.class>;

/**
 * An unanswered question the gap clustering has read, once per answer. `gap` is null when the
 * question holds no word that carries meaning ("hello?"): read, and no gap. Terms and embedding
 * come from the customer's words, so the row goes with the answer (GDPR erasure).
 */
export const AssistantGapQuestion = defineEntity({
  name: 'AssistantGapQuestion',
  tableName: 'assistant_gap_question',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    gap: () => p.manyToOne(AssistantKnowledgeGap).mapToPk().nullable().deleteRule('cascade'),
    answer: () => p.manyToOne(AssistantAnswer).mapToPk().unique().deleteRule('cascade'),
    /** Stemmed keywords of the question: what keyword clustering compares. */
    terms: p.array().default([]),
    embedding: p.array(Number, String).columnType('real[]').nullable(),
    embeddingModel: p.string().length(200).nullable(),
    askedAt: p.datetime(),
  },
  indexes: [{ properties: ['workspace', 'gap'] }],
});

export type AssistantGapQuestionEntity = InstanceType<typeof AssistantGapQuestion.class>;

export const toolCallStatuses = ['awaiting_confirmation', 'done', 'failed', 'declined', 'expired'] as const;
export type ToolCallStatus = (typeof toolCallStatuses)[number];

/**
 * One action the assistant took or proposed for a customer: which tool, the validated arguments,
 * and what became of it. It is also the ledger that makes a call happen once: the tool's effect and
 * `done` commit together, and a retried answer finds the row instead of calling again.
 */
export const AssistantToolCall = defineEntity({
  name: 'AssistantToolCall',
  tableName: 'assistant_tool_call',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    /** The person it acts for: from the session or conversation, never from the model. */
    profileId: p.uuid(),
    conversationId: p.uuid().nullable(),
    /** The customer's message that led to it (conversations), unique: one call per message. */
    questionMessageId: p.uuid().nullable().unique(),
    /** The customer's "yes" or "no" to a proposal (conversations): a retried answer finds it here. */
    confirmationMessageId: p.uuid().nullable().unique(),
    tool: p.string().length(120),
    args: p.json<Record<string, unknown>>(),
    highImpact: p.boolean(),
    status: p.enum(toolCallStatuses),
    /** What the customer was told the action did (or, awaiting confirmation, will do). */
    summary: p.text().nullable(),
    result: p.json<Record<string, unknown>>().nullable(),
    error: p.string().length(500).nullable(),
    /** Who confirmed or declined: `customer`, or `system` when it expired. */
    decidedBy: p.string().length(200).nullable(),
    requestedAt: p.datetime(),
    decidedAt: p.datetime().nullable(),
  },
  indexes: [
    { properties: ['workspace', 'conversationId', 'status'] },
    { properties: ['workspace', 'profileId'] },
  ],
});

export type AssistantToolCallEntity = InstanceType<typeof AssistantToolCall.class>;

/**
 * The embedding of one search document (a collection's document in one locale) under one model:
 * what retrieval compares the question's embedding with. The text comes from the search source at
 * answer time; this row only finds it. `contentHash` (model and text) spares the model unchanged
 * documents; `filters` are the document's search filters (visibility, profileId) so that retrieval
 * and erasure can select by them.
 */
export const AssistantEmbedding = defineEntity({
  name: 'AssistantEmbedding',
  tableName: 'assistant_embedding',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    collection: p.string().length(100),
    documentId: p.string().length(200),
    /** '' for a language-neutral document, as the search engine keys it. */
    locale: p.string().length(35),
    model: p.string().length(200),
    contentHash: p.string().length(64),
    filters: p.json<Record<string, unknown>>().default('{}'),
    /** Unit length, so the dot product is the cosine similarity. */
    vector: p.array(Number, String).columnType('real[]'),
    updatedAt: updatedAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'collection', 'documentId', 'locale'] }],
});

export type AssistantEmbeddingEntity = InstanceType<typeof AssistantEmbedding.class>;
