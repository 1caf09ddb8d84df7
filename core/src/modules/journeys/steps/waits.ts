import { nextLocalTime } from '../engine/clock.ts';
import { defineStep } from './step.ts';

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Waits a fixed time, then goes on. */
export const waitStep = defineStep({
  code: 'wait',
  readOnly: true,
  label: 'Wait',
  description: 'Waits for a duration, then continues',
  args: {
    minutes: { type: 'int', label: 'Minutes', min: 0, max: 525_600, required: false, default: 0 },
    hours: { type: 'int', label: 'Hours', min: 0, max: 8760, required: false, default: 0 },
    days: { type: 'int', label: 'Days', min: 0, max: 365, required: false, default: 0 },
  },
  waits: true,
  outcomes: () => ['next'],
  check: (args) =>
    args.minutes + args.hours + args.days > 0 ? null : { arg: 'minutes', message: 'wait at least a minute' },
  fn: async (args, ctx) => ({
    wait: {
      until: new Date(ctx.now.getTime() + ((args.days * 24 + args.hours) * 60 + args.minutes) * 60_000),
    },
  }),
  resume: () => 'next',
});

/** Waits until a time of day on the profile's own clock (trait `timezone`), daylight saving included. */
export const waitUntilTimeStep = defineStep({
  code: 'wait-until-time',
  label: 'Wait until time of day',
  description: "Waits until the next time the profile's local clock shows this time",
  args: { time: { type: 'string', label: 'Local time (HH:MM)', ui: 'time' } },
  waits: true,
  outcomes: () => ['next'],
  check: (args) => (TIME.test(args.time) ? null : { arg: 'time', message: 'must be HH:MM (24 h)' }),
  fn: async (args, ctx) => ({ wait: { until: nextLocalTime(ctx.now, args.time, await ctx.timeZone()) } }),
  resume: () => 'next',
});

/** Waits for an event of the profile (e.g. "Order Completed"), at most `timeoutHours`. */
export const waitForEventStep = defineStep({
  code: 'wait-for-event',
  readOnly: true,
  label: 'Wait for event',
  description: 'Continues along "event" when the profile does this, along "timeout" when it does not in time',
  args: {
    event: { type: 'string', label: 'Event name', ui: 'event-name' },
    timeoutHours: { type: 'int', label: 'Give up after (hours)', min: 1, max: 8760 },
  },
  waits: true,
  outcomes: () => ['event', 'timeout'],
  fn: async (args, ctx) => ({
    wait: { until: new Date(ctx.now.getTime() + args.timeoutHours * 3_600_000), event: args.event },
  }),
  resume: (_args, how) => how,
});
