import type { EntityManager } from '@mikro-orm/postgresql';
import type { z } from 'zod';
import { PluginError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';

/**
 * What a tool runs with. It acts for exactly one person, whom the customer session or the
 * conversation names, never the model: a model talked into "cancel the order of anna@…" can
 * only ever act for the customer who is asking.
 */
export interface AssistantToolContext {
  /** The transaction that also records the call as done: write here and the effect happens once. */
  em: EntityManager;
  workspaceId: string;
  profileId: string;
  conversationId: string | null;
  /** Stable per call: pass it on to anything outside the database, so a retry acts once. */
  idempotencyKey: string;
  logger: Logger;
}

export interface AssistantToolResult {
  /** What the customer is told, in plain words. */
  summary: string;
  /** For the explanation and the audit log (ids, codes, counts); never given to the model. */
  data?: Record<string, unknown>;
}

/**
 * An action the assistant may take for a customer (self-service flows register theirs):
 * `{ code, args, fn }` like every configurable operation, with zod arguments that the model's
 * call must satisfy before `fn` runs.
 */
export interface AssistantTool<Args extends z.ZodObject = z.ZodObject> {
  /** Unique across modules, prefixed by the plugin: `orders.cancel`. */
  code: string;
  label: string;
  /** What the model reads to decide whether the customer's request needs this tool. */
  description: string;
  args: Args;
  /**
   * Changes something that matters to the customer (an order, an address, money, an account):
   * runs only after the customer confirms the exact arguments.
   */
  highImpact: boolean;
  fn: (args: z.output<Args>, ctx: AssistantToolContext) => Promise<AssistantToolResult>;
}

// biome-ignore lint/suspicious/noExplicitAny: modules register tools of many argument shapes in one list.
export type AnyAssistantTool = AssistantTool<any>;

const CODE = /^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/;

/** Declares an assistant tool; a code without the plugin prefix stops boot with a clear error. */
export function defineAssistantTool<Args extends z.ZodObject>(
  tool: AssistantTool<Args>,
): AssistantTool<Args> {
  if (!CODE.test(tool.code))
    throw new PluginError(tool.code, 'an assistant tool code looks like "<plugin>.<action>" (lower case)');
  if (!tool.description.trim()) throw new PluginError(tool.code, 'an assistant tool needs a description');
  return tool;
}
