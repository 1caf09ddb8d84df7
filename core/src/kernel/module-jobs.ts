import type { Job } from 'pg-boss';
import { WORKSPACE_FILTER } from '../db/orm.ts';
import type { Jobs } from './jobs.ts';
import type { LoadedModule } from './module-host.ts';
import type { AnyRuntime, JobContext } from './plugin.ts';

/**
 * Creates the queue of every job a module declares (retry policy and dead letter per job),
 * queues the next run of periodic ones and, in worker processes, runs their handlers. Job
 * data that carries `workspaceId` gets an entity manager confined to that workspace.
 */
export async function runModuleJobs(
  modules: LoadedModule[],
  runtimeOf: (m: LoadedModule) => AnyRuntime,
  jobs: Jobs,
  work: boolean,
): Promise<void> {
  for (const module of modules) {
    const runtime = runtimeOf(module);
    for (const [name, definition] of Object.entries(module.jobs)) {
      const deadLetter = definition.onDeadLetter ? `${name}.dead` : undefined;
      if (deadLetter) await jobs.createQueue(deadLetter, { retryLimit: 0 });
      await jobs.createQueue(name, {
        retryLimit: definition.retryLimit ?? 5,
        retryDelay: definition.retryDelaySeconds ?? 5,
        retryBackoff: definition.retryBackoff ?? true,
        expireInSeconds: definition.expireInSeconds ?? 300,
        ...(definition.retryDelayMaxSeconds ? { retryDelayMax: definition.retryDelayMaxSeconds } : {}),
        ...(deadLetter ? { deadLetter } : {}),
      });
      const every = definition.everySeconds;
      if (every) await queueNextRun(jobs, name, every);
      if (!work) continue;
      const contextOf = (job: Job<Record<string, unknown>>): JobContext<unknown> => {
        const em = runtime.orm.em.fork();
        const workspaceId = job.data.workspaceId;
        if (typeof workspaceId === 'string') em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
        return { ...runtime, em, jobId: job.id, attempt: job.retryCount + 1, signal: job.signal };
      };
      const handle = async (job: Job<Record<string, unknown>>) => {
        // First thing, so that a run that fails or hangs does not end the series.
        if (every) await queueNextRun(jobs, name, every);
        await definition.handle(job.data, contextOf(job));
      };
      await jobs.work<Record<string, unknown>>(name, handle, { concurrency: definition.concurrency ?? 1 });
      const onDeadLetter = definition.onDeadLetter;
      if (deadLetter && onDeadLetter) {
        await jobs.work<Record<string, unknown>>(deadLetter, (job) => onDeadLetter(job.data, contextOf(job)));
      }
    }
  }
}

/**
 * Periodic jobs without pg-boss's cron scheduler (which `Jobs` turns off): one job per time slot
 * of `seconds` under a fixed singleton key, in the current slot when it has none yet, else at the
 * start of the next one. Every process queues one at boot and every run queues the next, and
 * pg-boss's unique index on (queue, slot, key) keeps that to one run per slot, whatever the
 * number of processes or restarts.
 */
function queueNextRun(jobs: Jobs, name: string, seconds: number): Promise<string | null> {
  return jobs.send(name, {}, { singletonKey: 'every', singletonSeconds: seconds, singletonNextSlot: true });
}
