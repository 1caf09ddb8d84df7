import {
  Conversation,
  type ConversationEntity,
  classifyMessage,
  conversationDependencies,
  type JobContext,
  type JobQueue,
  type LiveNotice,
  Message,
  messageNotices,
  publishNotices,
  recordAudit,
  requestHandoff,
  sendMessage,
} from '@atrium/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AI_DISCLOSURE, type AnswerOutcome, actionOutcome, answerQuestion } from './answer.ts';
import type { AssistantConfig } from './config.ts';
import { AssistantAnswer, type AssistantAnswerEntity } from './entities.ts';
import { rememberFrom } from './memory.ts';
import { currentPolicy, type Policy } from './policy.ts';
import { intentOf, sentimentOf } from './text.ts';
import { answerProposal, confirmationIn, earlierDecision, lapseProposal, openProposal } from './tools.ts';

export const ANSWER_QUEUE = 'assistant.answer';

export interface AnswerJob {
  workspaceId: string;
  conversationId: string;
  messageId: string;
}

/** From `conversation.message-received`: queues an answer (the LLM call never runs in the handler). */
export async function queueConversationAnswer(
  em: EntityManager,
  jobs: JobQueue,
  data: AnswerJob,
): Promise<void> {
  await jobs.send(ANSWER_QUEUE, data, { em });
}

/**
 * Stores the explanation of an answer (sources, rules, model, confidence) and its audit entry
 * (`ai.answer`: the decision's codes, never the question's text), on the caller's transaction.
 */
export async function recordAnswer(
  em: EntityManager,
  input: {
    workspaceId: string;
    question: string;
    outcome: AnswerOutcome;
    profileId?: string | null;
    conversationId?: string | null;
    questionMessageId?: string | null;
    replyMessageId?: string | null;
  },
): Promise<AssistantAnswerEntity> {
  const { outcome } = input;
  const row = em.create(AssistantAnswer, {
    workspace: input.workspaceId,
    profileId: input.profileId ?? null,
    conversationId: input.conversationId ?? null,
    questionMessageId: input.questionMessageId ?? null,
    replyMessageId: input.replyMessageId ?? null,
    question: input.question,
    answer: outcome.text,
    mode: outcome.mode,
    sources: outcome.sources,
    policyVersion: outcome.policyVersion,
    rulesApplied: outcome.rulesApplied,
    model: outcome.model,
    confidence: outcome.confidence,
    handoffReason: outcome.handoff?.reason ?? null,
  });
  await em.flush();
  await recordAudit(em, {
    workspaceId: input.workspaceId,
    actor: { kind: 'system', subject: 'assistant' },
    action: 'ai.answer',
    targets: [
      { type: 'AssistantExplanation', id: row.id },
      ...(input.profileId ? [{ type: 'Profile', id: input.profileId }] : []),
      ...(outcome.action ? [{ type: 'AssistantToolCall', id: outcome.action.id }] : []),
    ],
    details: {
      mode: outcome.mode,
      policyVersion: outcome.policyVersion,
      rules: outcome.rulesApplied,
      model: outcome.model,
      confidence: outcome.confidence,
      sources: outcome.sources.map((s) => `${s.collection}:${s.documentId}`),
      handoff: outcome.handoff?.reason ?? null,
    },
  });
  return row;
}

/**
 * Answers a customer's message in its conversation: unless a person holds the conversation or
 * the assistant already handed it over, it classifies the message (intent, sentiment: routing uses
 * them), answers under the policy, replies through the conversation's inbox as `assistant`, and
 * hands over with a summary when a rule says so. Runs once per message (unique explanation row).
 */
export async function answerInConversation(ctx: JobContext<AssistantConfig>, data: AnswerJob): Promise<void> {
  const em = ctx.em;
  if (await em.findOne(AssistantAnswer, { questionMessageId: data.messageId })) return;
  const message = await em.findOne(Message, { id: data.messageId });
  const conversation = await em.findOne(Conversation, { id: data.conversationId });
  if (!message || !conversation || message.direction !== 'inbound' || message.author !== 'customer') return;
  const text = message.text?.trim() ?? '';
  const sentiment = sentimentOf(text);
  const intent = intentOf(text);
  // Facts and preferences the customer states are kept across sessions (also while a person
  // handles the conversation), only with ai_memory consent.
  if (text) await rememberFrom(em, data.workspaceId, conversation.profileId, text);
  if (!text || (await humansOwn(em, conversation))) {
    if (text) await classifyMessage(em, message.id, { intent, sentiment });
    return;
  }
  const policy = await currentPolicy(em, data.workspaceId);
  const outcome =
    (await answerToProposal(ctx, policy, conversation, message.id, text)) ??
    (await answerQuestion(
      { runtime: ctx, llm: ctx.llm, em, policy, signal: ctx.signal },
      {
        workspaceId: data.workspaceId,
        question: text,
        locale: conversation.language,
        audience: 'customer',
        profileId: conversation.profileId,
        conversationId: conversation.id,
        questionMessageId: message.id,
      },
    ));
  const firstAnswer = (await em.count(AssistantAnswer, { conversationId: conversation.id })) === 0;
  const deps = conversationDependencies(ctx);
  const notices: LiveNotice[] = [];
  await em.transactional(async (tx) => {
    const reply = await sendMessage(tx, deps, {
      workspaceId: data.workspaceId,
      conversationId: conversation.id,
      text: firstAnswer ? `${AI_DISCLOSURE}\n\n${outcome.text}` : outcome.text,
      author: 'assistant',
      authorId: 'assistant',
      idempotencyKey: `assistant:${message.id}`,
    });
    notices.push(...messageNotices(reply.message, 'message'));
    await recordAnswer(tx, {
      workspaceId: data.workspaceId,
      question: text,
      outcome,
      profileId: conversation.profileId,
      conversationId: conversation.id,
      questionMessageId: message.id,
      replyMessageId: reply.message.id,
    });
    await classifyMessage(tx, message.id, { intent, sentiment });
    if (outcome.handoff) {
      const handed = await requestHandoff(tx, deps, {
        conversationId: conversation.id,
        source: 'assistant',
        reason: outcome.handoff.reason,
        summary: outcome.handoff.summary,
        context: {
          question: text,
          intent,
          sentiment,
          confidence: outcome.confidence,
          sources: outcome.sources.map((s) => s.title),
          rules: outcome.rulesApplied,
        },
      });
      notices.push(...handed.notices);
    }
  });
  await publishNotices(ctx.live, notices, ctx.logger);
}

/**
 * The customer's message as an answer to the assistant's open proposal: yes runs the action, no
 * declines it, anything else lets the proposal lapse and is answered as a new question (null).
 * A retried job finds the decision its message already led to and tells it again.
 */
async function answerToProposal(
  ctx: JobContext<AssistantConfig>,
  policy: Policy,
  conversation: ConversationEntity,
  messageId: string,
  text: string,
): Promise<AnswerOutcome | null> {
  const em = ctx.em;
  const context = { question: text, model: null };
  const earlier = await earlierDecision(em, messageId, ctx.assistantTools);
  if (earlier) return actionOutcome(policy, earlier, context);
  const proposal = await openProposal(em, conversation.id);
  if (!proposal || proposal.profileId !== conversation.profileId) return null;
  const confirm = confirmationIn(text);
  if (confirm === null) {
    await lapseProposal(em, proposal);
    return null;
  }
  const decision = await answerProposal(
    em,
    ctx.assistantTools,
    {
      workspaceId: conversation.workspace,
      callId: proposal.id,
      profileId: conversation.profileId,
      confirm,
      messageId,
    },
    ctx.logger,
  );
  return actionOutcome(policy, decision, context);
}

/** A person holds the conversation, or the assistant handed it over already: it stays quiet. */
async function humansOwn(em: EntityManager, conversation: ConversationEntity): Promise<boolean> {
  if (conversation.assignee) return true;
  return (
    (await em.count(AssistantAnswer, { conversationId: conversation.id, handoffReason: { $ne: null } })) > 0
  );
}
