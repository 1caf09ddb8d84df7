import { LlmError, type LlmProvider, type ModuleRuntime, ValidationError } from '@atrium/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AssistantConfig } from './config.ts';
import type { AnswerMode, AssistantToolCallEntity, CitedSource } from './entities.ts';
import { buildPrompt, OutputGuard } from './governance.ts';
import { usableMemories } from './memory.ts';
import type { Policy } from './policy.ts';
import { type Passage, retrievePassages } from './retrieval.ts';
import { asksForHuman, keywordsOf, sentimentOf, topicIn } from './text.ts';
import { chooseTool, decideToolCall, isModelFailure, offeredTools, type ToolDecision } from './tools.ts';

/** Shown with every answer (EU AI Act, art. 50): the customer is told an AI is answering. */
export const AI_DISCLOSURE = 'You are chatting with an AI assistant. You can ask for a person at any time.';

const TEXTS = {
  noSource: 'I could not find an answer to this in our help content, so I will not guess.',
  refused: 'I am sorry, I cannot help with this topic here.',
  stopped: 'I am sorry, I cannot answer that.',
  toHuman: 'I am passing your question to a colleague, who will see this conversation.',
  extractive:
    'No language model is available, so here is the most relevant passage from our help content, as written:',
};

/** The rules an answer records when the knowledge base let the question down (knowledge gaps read them). */
export const NO_RELEVANT_SOURCE = 'no-relevant-source';
export const LOW_CONFIDENCE_HANDOFF = 'low-confidence-handoff';

export interface AskInput {
  workspaceId: string;
  question: string;
  locale?: string | null;
  /** Agents may draw on internal documents; customers never. */
  audience: 'customer' | 'agent';
  /** The asking person: their memories are used when they granted `ai_memory`; tools act for them. */
  profileId?: string | null;
  conversationId?: string | null;
  /** The conversation message asked (one tool call per message at most). */
  questionMessageId?: string | null;
}

export interface Handoff {
  reason: string;
  summary: string;
}

export interface AnswerOutcome {
  mode: AnswerMode;
  /** What the customer reads: the answer, the disclaimers and the sources. */
  text: string;
  sources: CitedSource[];
  confidence: number;
  rulesApplied: string[];
  model: string | null;
  policyVersion: number;
  /** Set when a human should take over, with why and what they should read first. */
  handoff: Handoff | null;
  disclosure: string;
  /** The question's deterministic reading, for agent assist and routing. */
  sentiment: number;
  /** The tool call the answer proposed, ran or refers to (mode `action`). */
  action: AssistantToolCallEntity | null;
}

export interface AnswerDependencies {
  runtime: Pick<
    ModuleRuntime<AssistantConfig>,
    'search' | 'searchSources' | 'config' | 'assistantTools' | 'logger'
  >;
  /** The LLM, or null: then the answer is extractive. */
  llm: LlmProvider | null;
  em: EntityManager;
  policy: Policy;
  /** Receives the answer's text as it is released (after the guard), for streaming. */
  onText?: (text: string) => void;
  /** Receives the sources before generation starts. */
  onSources?: (sources: CitedSource[]) => void;
  signal?: AbortSignal;
}

/**
 * Answers one question under the workspace's policy. Every decision that must hold whatever the
 * model writes — refusing blocked topics, handing off, citing, staying within allowed sources,
 * stopping leaks — is made here in code; the model only words an answer from the passages.
 */
export async function answerQuestion(deps: AnswerDependencies, input: AskInput): Promise<AnswerOutcome> {
  const { policy, runtime } = deps;
  const config = runtime.config;
  const question = input.question.trim();
  if (!question) throw new ValidationError('ask a question', 'question');
  if (question.length > 2000) throw new ValidationError('a question has at most 2000 characters', 'question');
  const rules = [`policy-v${policy.version}`];
  const sentiment = sentimentOf(question);
  const base = {
    sources: [] as CitedSource[],
    confidence: 0,
    model: null,
    policyVersion: policy.version,
    disclosure: AI_DISCLOSURE,
    sentiment,
    action: null,
  };
  const decline = (mode: AnswerMode, body: string, handoff: Handoff | null, rule: string): AnswerOutcome => {
    rules.push(rule);
    const text = composeText(body, [], handoff ? TEXTS.toHuman : null, policy);
    deps.onText?.(text);
    return { ...base, mode, text, rulesApplied: rules, handoff };
  };
  const summaryOf = (why: string, extra = '') =>
    `The assistant handed over (${why}). The customer wrote: "${question.slice(0, 500)}"${extra}`;

  const language = input.locale?.toLowerCase().split('-')[0];
  if (
    policy.languages.length &&
    language &&
    !policy.languages.some((l) => l.toLowerCase().split('-')[0] === language)
  )
    return decline(
      'handed_off',
      '',
      { reason: 'language', summary: summaryOf(`language ${input.locale}`) },
      'language-not-allowed',
    );
  const blocked = topicIn(question, policy.blockedTopics);
  if (blocked)
    return decline(
      'refused',
      TEXTS.refused,
      { reason: 'topic', summary: summaryOf(`blocked topic "${blocked}"`) },
      `blocked-topic:${blocked}`,
    );
  if (asksForHuman(question))
    return decline(
      'handed_off',
      '',
      { reason: 'asked-for-human', summary: summaryOf('asked for a person') },
      'asked-for-human',
    );
  if (sentiment <= config.handoffBelowSentiment)
    return decline(
      'handed_off',
      '',
      { reason: 'negative-sentiment', summary: summaryOf(`negative sentiment ${sentiment.toFixed(2)}`) },
      'negative-sentiment',
    );
  const handoffTopic = topicIn(question, policy.handoffTopics);
  if (handoffTopic)
    return decline(
      'handed_off',
      '',
      { reason: 'topic', summary: summaryOf(`topic "${handoffTopic}" needs a person`) },
      `handoff-topic:${handoffTopic}`,
    );

  const acted = await actIfAsked(deps, input, question, rules);
  if (acted) return acted;

  const retrieval = await retrievePassages({ ...runtime, llm: deps.llm }, deps.em, {
    workspaceId: input.workspaceId,
    question,
    collections: policy.allowedCollections,
    locale: input.locale ?? null,
    includeInternal: input.audience === 'agent',
    limit: config.maxSources,
    minCoverage: config.minCoverage,
    minSimilarity: config.minSimilarity,
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  const passages = retrieval.passages;
  rules.push(...retrieval.rules);
  if (passages.length === 0)
    return decline(
      'refused',
      TEXTS.noSource,
      {
        reason: 'low-confidence',
        summary: summaryOf('no relevant source', '; nothing in the allowed sources matched.'),
      },
      NO_RELEVANT_SOURCE,
    );

  // Only the asking person's own memories, and only with their consent: nobody else's data.
  const memories = await usableMemories(deps.em, input.workspaceId, input.profileId ?? null);
  if (memories.length) rules.push('memory-used');
  const sources = passages.map((p, i) => citedOf(p, i));
  deps.onSources?.(sources);
  const confidence = passages[0]?.coverage ?? 0;
  let mode: AnswerMode = 'generated';
  let body = '';
  let model: string | null = null;
  let cited = sources;
  if (deps.llm) {
    try {
      const generated = await generate(deps, deps.llm, passages, question, input.locale ?? null, memories);
      for (const rule of generated.rules) rules.push(rule);
      if (generated.stopped) {
        return { ...decline('refused', TEXTS.stopped, null, 'answer-withheld'), model: deps.llm.model };
      }
      body = generated.text;
      model = deps.llm.model;
      // Cite what the answer refers to; an answer that cites nothing valid cites every passage it was given.
      const refs = [...body.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
      const valid = sources.filter((s) => refs.includes(s.ref));
      cited = valid.length ? valid : sources;
      if (!body.trim()) throw new LlmError('LLM_ERROR', 'the model wrote nothing');
    } catch (error) {
      if (!(error instanceof LlmError) || error.code === 'LLM_CANCELLED') throw error;
      rules.push(`llm-failed:${error.code}`);
      mode = 'extractive';
    }
  } else {
    rules.push('no-llm-configured');
    mode = 'extractive';
  }
  if (mode === 'extractive') {
    const best = passages[0] as Passage;
    body = `${TEXTS.extractive}\n"${bestExcerpt(best, keywordsOf(question))}" [1]`;
    cited = sources.slice(0, 1);
    rules.push('extractive');
  }
  let handoff: Handoff | null = null;
  if (confidence < config.handoffBelowConfidence) {
    rules.push(LOW_CONFIDENCE_HANDOFF);
    handoff = {
      reason: 'low-confidence',
      summary: summaryOf(
        `confidence ${confidence.toFixed(2)}`,
        `; the assistant answered from ${cited.map((s) => `"${s.title}"`).join(', ')}.`,
      ),
    };
  }
  if (policy.disclaimers.length) rules.push('disclaimers');
  const text = composeText(body, cited, handoff ? TEXTS.toHuman : null, policy);
  // Streaming already sent the body; what follows it (handoff note, disclaimers, sources) goes now.
  if (deps.onText) deps.onText(mode === 'generated' ? text.slice(body.length) : text);
  return { ...base, mode, text, sources: cited, confidence, rulesApplied: rules, model, handoff };
}

/**
 * Offers the policy's tools to the model when a known customer asks. Whatever the model asks
 * for passes `decideToolCall`'s gate; a request for a tool not offered is ignored (and noted), and
 * the question is answered from content as usual.
 */
async function actIfAsked(
  deps: AnswerDependencies,
  input: AskInput,
  question: string,
  rules: string[],
): Promise<AnswerOutcome | null> {
  const tools = offeredTools(deps.policy, deps.runtime.assistantTools);
  // Tools act for the asking customer; an agent asking for help gets answers, not actions.
  if (tools.length === 0 || !input.profileId || input.audience !== 'customer') return null;
  if (!deps.llm) {
    rules.push('tools-need-llm');
    return null;
  }
  let requested: Awaited<ReturnType<typeof chooseTool>>;
  try {
    requested = await chooseTool(deps.llm, tools, question, deps.signal);
  } catch (error) {
    if (!isModelFailure(error)) throw error;
    rules.push(`tool-choice-failed:${(error as LlmError).code}`);
    return null;
  }
  if (!requested) return null;
  const decision = await decideToolCall(
    deps.em,
    tools,
    requested,
    {
      workspaceId: input.workspaceId,
      profileId: input.profileId,
      conversationId: input.conversationId ?? null,
      questionMessageId: input.questionMessageId ?? null,
    },
    deps.runtime.logger,
  );
  if (!decision) {
    rules.push(`tool-refused:${requested.name.slice(0, 60)}`);
    return null;
  }
  return actionOutcome(deps.policy, decision, {
    rules,
    question,
    model: deps.llm.model,
    onText: deps.onText,
  });
}

/** The answer that tells the customer what an action did, proposes or needs; a failed one hands off. */
export function actionOutcome(
  policy: Policy,
  decision: ToolDecision,
  context: { rules?: string[]; question: string; model: string | null; onText?: (text: string) => void },
): AnswerOutcome {
  const rules = context.rules ?? [`policy-v${policy.version}`];
  rules.push(decision.rule);
  const handoff: Handoff | null = decision.failed
    ? {
        reason: 'tool-failed',
        summary: `The assistant handed over (the action ${decision.call?.tool ?? ''} failed). The customer wrote: "${context.question.slice(0, 500)}"`,
      }
    : null;
  const text = composeText(decision.text, [], null, policy);
  context.onText?.(text);
  return {
    mode: 'action',
    text,
    sources: [],
    confidence: 1,
    rulesApplied: rules,
    model: context.model,
    policyVersion: policy.version,
    handoff,
    disclosure: AI_DISCLOSURE,
    sentiment: sentimentOf(context.question),
    action: decision.call,
  };
}

async function generate(
  deps: AnswerDependencies,
  llm: LlmProvider,
  passages: Passage[],
  question: string,
  locale: string | null,
  memories: string[],
): Promise<{ text: string; stopped: boolean; rules: string[] }> {
  const prompt = buildPrompt(deps.policy, passages, question, locale, memories);
  const allowed = [question, ...memories, ...passages.map((p) => `${p.title}\n${p.text}`)].join('\n');
  const guard = new OutputGuard(deps.policy, prompt, allowed);
  let text = '';
  const stream = llm.chatStream({
    messages: prompt.messages,
    maxTokens: deps.runtime.config.maxAnswerTokens,
    temperature: 0.2,
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  for await (const chunk of stream) {
    const shown = guard.push(chunk.content);
    if (shown) {
      text += shown;
      deps.onText?.(shown);
    }
    if (guard.violation) break; // leaving the loop aborts the generation
  }
  const rest = guard.finish();
  if (rest) {
    text += rest;
    deps.onText?.(rest);
  }
  return { text: text.trim(), stopped: guard.violation !== null, rules: [...guard.rules] };
}

function citedOf(p: Passage, index: number): CitedSource {
  return {
    ref: index + 1,
    collection: p.collection,
    documentId: p.documentId,
    locale: p.locale,
    title: p.title,
    coverage: Math.round(p.coverage * 100) / 100,
  };
}

/** The passage's sentences that share the most words with the question, in their order, ≤ 600 characters. */
function bestExcerpt(passage: Passage, keywords: string[]): string {
  const sentences = passage.text.split(/(?<=[.!?])\s+|\n+/u).filter((s) => s.trim());
  if (sentences.length === 0) return passage.title;
  const scored = sentences.map((s, i) => ({
    s: s.trim(),
    i,
    score: keywords.filter((k) => s.toLocaleLowerCase().includes(k)).length,
  }));
  const chosen = [...scored].sort((a, b) => b.score - a.score || a.i - b.i);
  const picked: typeof scored = [];
  let length = 0;
  for (const c of chosen) {
    if (length + c.s.length > 600 && picked.length) break;
    picked.push(c);
    length += c.s.length;
  }
  return picked
    .sort((a, b) => a.i - b.i)
    .map((c) => c.s)
    .join(' ');
}

function composeText(
  body: string,
  sources: CitedSource[],
  handoffNote: string | null,
  policy: Policy,
): string {
  const parts = [body.trim()].filter(Boolean);
  if (handoffNote) parts.push(handoffNote);
  for (const d of policy.disclaimers) parts.push(d);
  if (sources.length) parts.push(`Sources:\n${sources.map((s) => `[${s.ref}] ${s.title}`).join('\n')}`);
  return parts.join('\n\n');
}
