import { defineModule } from '../../kernel/plugin.ts';
import { journeyEngineLoop } from './engine/loop.ts';
import { ChannelPolicy, Enrollment, Journey, JourneyStepRun, JourneyVersion } from './entities.ts';
import { journeyEvents } from './events.ts';
import { journeyJobs } from './jobs.ts';
import { eraseEnrollments, exportEnrollments } from './privacy.ts';
import { journeysSchema } from './schema.ts';
import { builtInSteps } from './steps/index.ts';

/** Durable, versioned customer journeys: triggers, waits, branches, sends, goals, drop-off analytics. */
export const journeysModule = defineModule({
  name: 'journeys',
  entities: [Journey, JourneyVersion, Enrollment, JourneyStepRun, ChannelPolicy],
  journeySteps: builtInSteps,
  schema: journeysSchema,
  events: journeyEvents,
  jobs: journeyJobs,
  background: { engine: journeyEngineLoop },
  exportProfile: exportEnrollments,
  eraseProfile: eraseEnrollments,
});
