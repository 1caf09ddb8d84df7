import type { ModulePart } from '../../../kernel/plugin.ts';
import { machineReadableRoutes } from '../routes/machine-readable.ts';
import { deliverySchema } from '../schema/delivery.ts';

/** Delivery: personalized content (variants), the knowledge base, JSON-LD, llms.txt and sitemaps. */
export const deliveryPart: ModulePart = { schema: deliverySchema, routes: machineReadableRoutes };
