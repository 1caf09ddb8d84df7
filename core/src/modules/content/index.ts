import { composeParts, defineModule } from '../../kernel/plugin.ts';
import { deliveryPart } from './delivery/index.ts';
import { ContentEntry, ContentLocale, ContentType, ContentVersion, WorkflowTransition } from './entities.ts';
import { contentEntriesSchema } from './schema/entries.ts';
import { searchSchema } from './schema/search.ts';
import { contentTypesSchema } from './schema/types.ts';
import { contentSearchSource } from './search/source.ts';
import { contentScheduleJobs } from './service/schedule.ts';

/** Headless content: types as data, localized versioned entries, review workflow, variants. */
export const contentModule = defineModule({
  name: 'content',
  entities: [ContentType, ContentLocale, ContentEntry, ContentVersion, WorkflowTransition],
  searchSources: [contentSearchSource],
  // One part per concern: authoring (types, entries, workflow, schedule), delivery, search.
  ...composeParts([
    {
      schema: (builder, _refs, runtime) =>
        contentEntriesSchema(builder, contentTypesSchema(builder), runtime.segmentOperators),
      jobs: contentScheduleJobs,
    },
    deliveryPart,
    { schema: searchSchema },
  ]),
});
