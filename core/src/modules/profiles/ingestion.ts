import type { ModulePart } from '../../kernel/plugin.ts';
import { ingestionRoutes } from './routes/ingestion.ts';
import { writeKeysSchema } from './schema/write-keys.ts';

/** Segment-compatible ingestion: write keys in the Admin graph, the tracking API over HTTP. */
export const ingestionPart: ModulePart = { schema: writeKeysSchema, routes: ingestionRoutes };
