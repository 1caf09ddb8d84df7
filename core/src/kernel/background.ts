import type { Logger } from './logger.ts';
import type { LoadedModule } from './module-host.ts';
import type { AnyRuntime } from './plugin.ts';

/** Pause before a loop that threw starts again, so a broken database is not hammered. */
const RESTART_DELAY_MS = 2000;

/**
 * Starts every module's `background` loops (worker processes only) and returns how to stop
 * them: abort, then wait until each loop has returned, so shutdown never cuts a transaction.
 */
export function startBackgroundLoops(
  modules: LoadedModule[],
  runtimeOf: (m: LoadedModule) => AnyRuntime,
  logger: Logger,
): { stop(): Promise<void> } {
  const controller = new AbortController();
  const running: Promise<void>[] = [];
  for (const m of modules) {
    for (const [name, loop] of Object.entries(m.definition.background ?? {})) {
      const label = `${m.definition.name}.${name}`;
      running.push(
        (async () => {
          while (!controller.signal.aborted) {
            try {
              await loop(runtimeOf(m), controller.signal);
            } catch (error) {
              logger.error({ err: error, loop: label }, 'background loop failed; restarting');
              await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
            }
          }
        })(),
      );
    }
  }
  return {
    async stop() {
      controller.abort();
      await Promise.all(running);
    },
  };
}
