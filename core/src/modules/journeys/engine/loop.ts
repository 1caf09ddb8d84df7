import { setTimeout as sleep } from 'node:timers/promises';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import type { JourneyDefinition } from '../definition.ts';
import { runDueEnrollments } from './runner.ts';

/** How long an idle worker waits before looking for due enrollments again: the timer resolution. */
const IDLE_POLL_MS = 100;
const BATCH = 200;

/**
 * The engine in a worker process: advance due enrollments batch after batch, and look again
 * every 100 ms when nothing is due. Several workers share the work through SKIP LOCKED.
 */
export async function journeyEngineLoop(runtime: ModuleRuntime, signal: AbortSignal): Promise<void> {
  const definitions = new Map<string, JourneyDefinition>();
  while (!signal.aborted) {
    const { claimed } = await runDueEnrollments(runtime, {
      steps: runtime.journeySteps,
      batchSize: BATCH,
      definitions,
    });
    if (claimed === 0) await sleep(IDLE_POLL_MS, undefined, { signal }).catch(() => {});
  }
}
