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
    createdBy: p.string().length(200).nullable(),
    createdAt: createdAtColumn(),
  },
  uniques: [{ properties: ['workspace', 'version'] }],
});

export type AssistantPolicyEntity = InstanceType<typeof AssistantPolicy.class>;

export const answerModes = ['generated', 'extractive', 'refused', 'handed_off'] as const;
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
