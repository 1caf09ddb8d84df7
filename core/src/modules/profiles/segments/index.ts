import type { ModulePart } from '../../../kernel/plugin.ts';
import { segmentsSchema } from '../schema/segments.ts';
import { segmentSubscriptions } from './events.ts';
import { segmentJobs } from './jobs.ts';
import { builtInSegmentOperators } from './operators.ts';

/** Segments and computed traits: GraphQL, real-time updates, recompute jobs, the built-in operators. */
export const segmentsPart: ModulePart = {
  schema: segmentsSchema,
  events: segmentSubscriptions,
  jobs: segmentJobs,
  segmentOperators: builtInSegmentOperators,
};
