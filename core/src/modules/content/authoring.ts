import type { ModulePart } from '../../kernel/plugin.ts';
import { contentEntriesSchema } from './schema/entries.ts';
import { contentTypesSchema } from './schema/types.ts';
import { contentScheduleJobs } from './service/schedule.ts';

/** Content types, locales, entries, versions, the review workflow and its schedule. */
export const authoringPart: ModulePart = {
  schema: (builder, _refs, runtime) =>
    contentEntriesSchema(builder, contentTypesSchema(builder), runtime.segmentOperators),
  jobs: contentScheduleJobs,
};
