import { composeParts, defineModule } from '../../kernel/plugin.ts';
import { authoringPart } from './authoring.ts';
import { deliveryPart } from './delivery/index.ts';
import { ContentEntry, ContentLocale, ContentType, ContentVersion, WorkflowTransition } from './entities.ts';
import { searchSchema } from './schema/search.ts';
import { contentSearchSource } from './search/source.ts';

/** Headless content: types as data, localized versioned entries, review workflow, variants. */
export const contentModule = defineModule({
  name: 'content',
  entities: [ContentType, ContentLocale, ContentEntry, ContentVersion, WorkflowTransition],
  searchSources: [contentSearchSource],
  // Each concern adds its part: one line here per part.
  ...composeParts([authoringPart, deliveryPart, { schema: searchSchema }]),
});
