import type { EntityManager } from '@mikro-orm/postgresql';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import type { ArgDefs, ArgValues, OperatorShape } from '../../profiles/segments/conditions.ts';

/** The enrollment a step runs for, as the step sees it. */
export interface EnrollmentView {
  id: string;
  journeyId: string;
  version: number;
  profileId: string;
  enteredAt: Date;
  /** Values earlier steps stored (e.g. the split's arm). */
  context: Record<string, unknown>;
}

export interface StepContext {
  /** The engine's transaction: write here and the effect happens exactly when the step does. */
  em: EntityManager;
  workspaceId: string;
  enrollment: EnrollmentView;
  /** Stable for this visit of this node: pass it on to anything outside the database. */
  idempotencyKey: string;
  now: Date;
  /** The simulator: say what would happen, change nothing. */
  dryRun: boolean;
  /** The profile's IANA time zone (trait `timezone`), or the workspace's default. */
  timeZone(): Promise<string>;
  runtime: ModuleRuntime;
}

/**
 * A step goes on along an outcome, waits (until a time, or an event with a timeout) and then
 * resumes along the step's `resume` outcome, or asks to run again later (quiet hours).
 */
export type StepResult =
  | { outcome: string; note?: string; context?: Record<string, unknown> }
  | { wait: { until: Date; event?: string }; note?: string }
  | { retryAt: Date; note: string };

/**
 * A journey step type in the `{ code, args, fn }` shape that channels and segment operators
 * share: `args` declares the arguments (an editor draws the form, definitions are validated
 * against it), `outcomes` names where the step can lead, `fn` runs it. Plugins add their own
 * through `journeySteps`; the built-ins use the same shape.
 */
export interface JourneyStep<D extends ArgDefs = ArgDefs> {
  /** Unique across core and plugins; a plugin prefixes its own (`loyalty.award-points`). */
  code: string;
  label: string;
  description: string;
  args: D;
  /** True for steps that wait: a loop through one of them is allowed. */
  waits?: boolean;
  /**
   * True for steps that run no SQL at all (a wait, a split): they run without a savepoint, which
   * is most of their cost. A step that queries must not set it: a failed statement aborts the
   * transaction, and without its savepoint the whole batch would roll back and come round again.
   */
  readOnly?: boolean;
  outcomes: (args: ArgValues<D>) => string[];
  /** Rules the argument types cannot say; name the argument at fault. */
  check?: (
    args: ArgValues<D>,
    ctx: { operators: ReadonlyMap<string, OperatorShape> },
  ) => { arg: keyof D & string; message: string } | null;
  fn: (args: ArgValues<D>, ctx: StepContext) => Promise<StepResult>;
  /** The outcome when a wait ends: its timer fired (`timeout`) or the awaited event came (`event`). */
  resume?: (args: ArgValues<D>, how: 'timeout' | 'event') => string;
}

export function defineStep<const D extends ArgDefs>(step: JourneyStep<D>): JourneyStep<D> {
  return step;
}

// biome-ignore lint/suspicious/noExplicitAny: steps of every argument shape live in one registry.
export type AnyStep = JourneyStep<any>;
