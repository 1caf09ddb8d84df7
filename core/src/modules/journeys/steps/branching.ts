import { createHash } from 'node:crypto';
import { ValidationError } from '../../../kernel/errors.ts';
import { type Condition, validateCondition } from '../../profiles/segments/conditions.ts';
import { matchCondition } from '../../profiles/segments/evaluate.ts';
import { operatorRegistry } from '../../profiles/segments/operators.ts';
import { defineStep } from './step.ts';

/** Goes along "yes" when the profile matches a segment condition now, else "no". */
export const branchStep = defineStep({
  code: 'branch',
  label: 'Condition',
  description: 'Checks a segment condition (traits, events, consent, segments) on the profile',
  args: { condition: { type: 'json', label: 'Condition', ui: 'condition' } },
  outcomes: () => ['yes', 'no'],
  check: (args, ctx) => {
    try {
      validateCondition(args.condition, ctx.operators, {}, 'condition');
      return null;
    } catch (error) {
      return { arg: 'condition', message: (error as Error).message };
    }
  },
  fn: async (args, ctx) => {
    const operators = operatorRegistry(ctx.runtime.segmentOperators);
    const matched = await matchCondition(
      ctx.em,
      ctx.workspaceId,
      [ctx.enrollment.profileId],
      args.condition as Condition,
      operators,
      ctx.now,
    );
    return { outcome: matched.length ? 'yes' : 'no' };
  },
});

interface Arm {
  name: string;
  percent: number;
}

function armsOf(raw: unknown): Arm[] {
  if (!Array.isArray(raw) || raw.length < 2 || raw.length > 10) {
    throw new ValidationError('arms must list 2 to 10 arms', 'arms');
  }
  return raw.map((arm, i) => {
    const { name, percent } = (arm ?? {}) as Partial<Arm>;
    if (typeof name !== 'string' || !/^[a-z][a-z0-9_-]{0,29}$/.test(name)) {
      throw new ValidationError(`arms[${i}].name must be a short lower-case name`, `arms[${i}].name`);
    }
    if (typeof percent !== 'number' || percent <= 0 || percent > 100) {
      throw new ValidationError(`arms[${i}].percent must be above 0 and at most 100`, `arms[${i}].percent`);
    }
    return { name, percent };
  });
}

/**
 * Sends each enrollment down one arm by percentage; an arm named `control` is the control group
 * (analytics compare its goal conversion with the rest). The arm follows from the enrollment id,
 * so running the step again (after a crash) picks the same arm.
 */
export const splitStep = defineStep({
  code: 'split',
  readOnly: true,
  label: 'Random split',
  description: 'Splits enrollments by percentage; name an arm "control" for a control group',
  args: { arms: { type: 'json', label: 'Arms ([{ name, percent }])', ui: 'split-arms' } },
  outcomes: (args) => {
    try {
      return armsOf(args.arms).map((a) => a.name);
    } catch {
      return [];
    }
  },
  check: (args) => {
    try {
      const arms = armsOf(args.arms);
      const total = arms.reduce((sum, a) => sum + a.percent, 0);
      if (Math.abs(total - 100) > 1e-9)
        return { arg: 'arms', message: `percentages add up to ${total}, not 100` };
      if (new Set(arms.map((a) => a.name)).size !== arms.length)
        return { arg: 'arms', message: 'arm names repeat' };
      return null;
    } catch (error) {
      return { arg: 'arms', message: (error as Error).message };
    }
  },
  fn: async (args, ctx) => {
    const arms = armsOf(args.arms);
    const roll =
      (createHash('sha256').update(`${ctx.enrollment.id}:${ctx.idempotencyKey}`).digest().readUInt32BE(0) /
        2 ** 32) *
      100;
    let upTo = 0;
    let arm = arms.at(-1) as Arm;
    for (const candidate of arms) {
      upTo += candidate.percent;
      if (roll < upTo) {
        arm = candidate;
        break;
      }
    }
    return {
      outcome: arm.name,
      context: { arm: arm.name, ...(arm.name === 'control' ? { control: true } : {}) },
    };
  },
});
