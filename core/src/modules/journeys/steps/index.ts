import { sendMessageStep, updateProfileStep } from './actions.ts';
import { branchStep, splitStep } from './branching.ts';
import type { AnyStep } from './step.ts';
import { waitForEventStep, waitStep, waitUntilTimeStep } from './waits.ts';
import { callWebhookStep } from './webhook.ts';

/** The step types every workspace has; plugins add theirs through `journeySteps`. */
export const builtInSteps: AnyStep[] = [
  waitStep,
  waitUntilTimeStep,
  waitForEventStep,
  branchStep,
  splitStep,
  sendMessageStep,
  updateProfileStep,
  callWebhookStep,
];
