import { ValidationError } from '../../kernel/errors.ts';
import { type OperatorShape, validateArgs } from '../profiles/segments/conditions.ts';
import { isTimeZone } from './engine/clock.ts';
import type { AnyStep } from './steps/step.ts';

/** What starts an enrollment. */
export type Trigger =
  | { type: 'event'; event: string; where?: Record<string, unknown> }
  | { type: 'segment-entered'; segment: string }
  | { type: 'segment-exited'; segment: string }
  | { type: 'trait-changed'; trait: string }
  /** `offsetDays` before (negative) or after (positive) the date in `trait`, at `time` in the profile's zone. */
  | { type: 'trait-date'; trait: string; offsetDays: number; time: string }
  /** Every profile in `segment` (or everyone), at `cron`-like daily time in the workspace zone. */
  | { type: 'schedule'; segment?: string; at: string; timeZone: string; everyDays: number }
  | { type: 'api' };

export const triggerTypes = [
  'event',
  'segment-entered',
  'segment-exited',
  'trait-changed',
  'trait-date',
  'schedule',
  'api',
] as const;

/** Who may enter again: never, only after leaving, or any time (a cooldown applies to both). */
export interface EntryRules {
  reentry: 'never' | 'after-exit' | 'always';
  /** Minimum hours between two entries of one profile. */
  cooldownHours: number;
  /** A profile enters at most this often in total. */
  maxEntries: number;
}

/** One node of the graph: a step with its arguments and where each outcome leads. */
export interface JourneyNode {
  type: string;
  args: Record<string, unknown>;
  /** Outcome → node id; an outcome without a next node ends the journey (completed). */
  next: Record<string, string>;
}

export interface JourneyDefinition {
  trigger: Trigger;
  entry: EntryRules;
  /** Conversion: the event that counts as reaching the goal, within `withinHours` of entry. */
  goal: { event: string; withinHours: number; exitOnGoal: boolean } | null;
  /** Leaving early: when this event arrives or the profile leaves this segment. */
  exit: { event?: string; segmentExited?: string } | null;
  start: string;
  nodes: Record<string, JourneyNode>;
}

const MAX_NODES = 200;
const ID = /^[a-zA-Z][a-zA-Z0-9_-]{0,49}$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

export interface DefinitionContext {
  steps: ReadonlyMap<string, AnyStep>;
  operators: ReadonlyMap<string, OperatorShape>;
}

/**
 * Checks a journey definition and returns it normalised (defaults applied). Every error names
 * the path at fault (`nodes.wait1.args.hours`, `trigger.event`), so an editor can point at it.
 * Beyond shape: every `next` names a node, every node is reachable from `start`, and the graph
 * has no cycle without a wait (which would spin forever in one go).
 */
export function validateDefinition(raw: unknown, ctx: DefinitionContext): JourneyDefinition {
  const record = objectAt(raw, 'definition');
  const trigger = validateTrigger(record.trigger);
  const entry = validateEntry(record.entry);
  const goal = record.goal == null ? null : validateGoal(record.goal);
  const exit = record.exit == null ? null : validateExit(record.exit);
  const nodesRaw = objectAt(record.nodes, 'nodes');
  const ids = Object.keys(nodesRaw);
  if (ids.length === 0) throw new ValidationError('nodes must have at least one step', 'nodes');
  if (ids.length > MAX_NODES) throw new ValidationError(`a journey has at most ${MAX_NODES} steps`, 'nodes');
  const nodes: Record<string, JourneyNode> = {};
  for (const id of ids) {
    if (!ID.test(id))
      throw new ValidationError(
        `nodes.${id}: ids are letters, digits, "_" and "-", starting with a letter`,
        `nodes.${id}`,
      );
    nodes[id] = validateNode(nodesRaw[id], `nodes.${id}`, ctx);
  }
  const start = record.start;
  if (typeof start !== 'string' || !nodes[start])
    throw new ValidationError('start must name a node', 'start');
  for (const [id, node] of Object.entries(nodes)) {
    for (const [outcome, target] of Object.entries(node.next)) {
      if (!nodes[target])
        throw new ValidationError(
          `nodes.${id}.next.${outcome}: no node "${target}"`,
          `nodes.${id}.next.${outcome}`,
        );
    }
  }
  checkReachable(start, nodes);
  checkWaitInEveryCycle(nodes, ctx.steps);
  return { trigger, entry, goal, exit, start, nodes };
}

function validateNode(raw: unknown, at: string, ctx: DefinitionContext): JourneyNode {
  const record = objectAt(raw, at);
  const type = record.type;
  const step = typeof type === 'string' ? ctx.steps.get(type) : undefined;
  if (!step) {
    throw new ValidationError(
      `${at}.type: unknown step ${JSON.stringify(type)} (steps: ${[...ctx.steps.keys()].join(', ')})`,
      `${at}.type`,
    );
  }
  const args = validateArgs(step.args, record.args, `${at}.args`);
  const problem = step.check?.(args as never, ctx);
  if (problem)
    throw new ValidationError(`${at}.args.${problem.arg}: ${problem.message}`, `${at}.args.${problem.arg}`);
  const nextRaw = record.next == null ? {} : objectAt(record.next, `${at}.next`);
  const outcomes = step.outcomes(args as never);
  const next: Record<string, string> = {};
  for (const [outcome, target] of Object.entries(nextRaw)) {
    if (!outcomes.includes(outcome)) {
      throw new ValidationError(
        `${at}.next.${outcome}: ${step.code} has the outcomes ${outcomes.join(', ')}`,
        `${at}.next.${outcome}`,
      );
    }
    if (typeof target !== 'string')
      throw new ValidationError(`${at}.next.${outcome} must name a node`, `${at}.next.${outcome}`);
    next[outcome] = target;
  }
  return { type: step.code, args, next };
}

function validateTrigger(raw: unknown): Trigger {
  const at = 'trigger';
  const record = objectAt(raw, at);
  const type = record.type;
  const text = (name: string) => {
    const value = record[name];
    if (typeof value !== 'string' || !value.trim() || value.length > 200) {
      throw new ValidationError(`${at}.${name} must be a non-empty string`, `${at}.${name}`);
    }
    return value.trim();
  };
  switch (type) {
    case 'event': {
      const where = record.where == null ? undefined : objectAt(record.where, `${at}.where`);
      return { type, event: text('event'), ...(where ? { where } : {}) };
    }
    case 'segment-entered':
    case 'segment-exited':
      return { type, segment: text('segment') };
    case 'trait-changed':
      return { type, trait: text('trait') };
    case 'trait-date': {
      const offsetDays = record.offsetDays;
      if (!Number.isInteger(offsetDays) || Math.abs(offsetDays as number) > 3650) {
        throw new ValidationError(
          `${at}.offsetDays must be a whole number of days within ±3650`,
          `${at}.offsetDays`,
        );
      }
      return {
        type,
        trait: text('trait'),
        offsetDays: offsetDays as number,
        time: timeAt(record.time ?? '09:00', `${at}.time`),
      };
    }
    case 'schedule': {
      const everyDays = record.everyDays ?? 1;
      if (!Number.isInteger(everyDays) || (everyDays as number) < 1 || (everyDays as number) > 366) {
        throw new ValidationError(`${at}.everyDays must be 1 to 366`, `${at}.everyDays`);
      }
      const timeZone = typeof record.timeZone === 'string' ? record.timeZone : 'UTC';
      checkTimeZone(timeZone, `${at}.timeZone`);
      return {
        type,
        at: timeAt(record.at, `${at}.at`),
        timeZone,
        everyDays: everyDays as number,
        ...(record.segment == null ? {} : { segment: text('segment') }),
      };
    }
    case 'api':
      return { type };
    default:
      throw new ValidationError(`${at}.type must be one of ${triggerTypes.join(', ')}`, `${at}.type`);
  }
}

function validateEntry(raw: unknown): EntryRules {
  const record = raw == null ? {} : objectAt(raw, 'entry');
  const reentry = record.reentry ?? 'never';
  if (reentry !== 'never' && reentry !== 'after-exit' && reentry !== 'always') {
    throw new ValidationError('entry.reentry must be never, after-exit or always', 'entry.reentry');
  }
  const cooldownHours = record.cooldownHours ?? 0;
  if (typeof cooldownHours !== 'number' || cooldownHours < 0 || cooldownHours > 87_600) {
    throw new ValidationError('entry.cooldownHours must be 0 to 87600', 'entry.cooldownHours');
  }
  const maxEntries = record.maxEntries ?? (reentry === 'never' ? 1 : 1000);
  if (!Number.isInteger(maxEntries) || (maxEntries as number) < 1) {
    throw new ValidationError('entry.maxEntries must be a whole number of at least 1', 'entry.maxEntries');
  }
  return { reentry, cooldownHours, maxEntries: maxEntries as number };
}

function validateGoal(raw: unknown): NonNullable<JourneyDefinition['goal']> {
  const record = objectAt(raw, 'goal');
  if (typeof record.event !== 'string' || !record.event.trim())
    throw new ValidationError('goal.event must name an event', 'goal.event');
  const withinHours = record.withinHours ?? 720;
  if (typeof withinHours !== 'number' || withinHours <= 0)
    throw new ValidationError('goal.withinHours must be positive', 'goal.withinHours');
  return { event: record.event.trim(), withinHours, exitOnGoal: record.exitOnGoal !== false };
}

function validateExit(raw: unknown): NonNullable<JourneyDefinition['exit']> {
  const record = objectAt(raw, 'exit');
  const out: NonNullable<JourneyDefinition['exit']> = {};
  if (record.event != null) {
    if (typeof record.event !== 'string' || !record.event.trim())
      throw new ValidationError('exit.event must name an event', 'exit.event');
    out.event = record.event.trim();
  }
  if (record.segmentExited != null) {
    if (typeof record.segmentExited !== 'string')
      throw new ValidationError('exit.segmentExited must be a segment key', 'exit.segmentExited');
    out.segmentExited = record.segmentExited;
  }
  return out;
}

function checkReachable(start: string, nodes: Record<string, JourneyNode>): void {
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length) {
    const id = queue.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    queue.push(...Object.values(nodes[id]?.next ?? {}));
  }
  for (const id of Object.keys(nodes)) {
    if (!seen.has(id)) throw new ValidationError(`nodes.${id} cannot be reached from start`, `nodes.${id}`);
  }
}

/** A loop back is fine (a reminder every week), but only through a step that waits. */
function checkWaitInEveryCycle(
  nodes: Record<string, JourneyNode>,
  steps: ReadonlyMap<string, AnyStep>,
): void {
  const state = new Map<string, 'open' | 'done'>();
  const visit = (id: string, path: string[]) => {
    const node = nodes[id] as JourneyNode;
    if (steps.get(node.type)?.waits) return;
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'open') {
      throw new ValidationError(
        `nodes.${id}: the loop ${[...path, id].join(' → ')} has no wait step`,
        `nodes.${id}`,
      );
    }
    state.set(id, 'open');
    for (const target of Object.values(node.next)) visit(target, [...path, id]);
    state.set(id, 'done');
  };
  for (const id of Object.keys(nodes)) visit(id, []);
}

export function objectAt(raw: unknown, at: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ValidationError(`${at} must be an object`, at);
  return raw as Record<string, unknown>;
}

export function timeAt(raw: unknown, at: string): string {
  if (typeof raw !== 'string' || !TIME.test(raw))
    throw new ValidationError(`${at} must be a time HH:MM (24 h)`, at);
  return raw;
}

export function checkTimeZone(zone: string, at: string): void {
  if (!isTimeZone(zone)) {
    throw new ValidationError(
      `${at}: unknown time zone "${zone}" (use an IANA name such as Europe/Zurich)`,
      at,
    );
  }
}
