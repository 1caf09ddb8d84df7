import { defineModule } from '../../kernel/plugin.ts';
import { EventDelivery, OutboxEvent } from './entities.ts';
import { outboxJobs } from './jobs.ts';
import { outboxSchema } from './schema.ts';

/** Domain events, their deliveries to handlers, and the dead letters admins retry. */
export const outboxModule = defineModule({
  name: 'outbox',
  entities: [OutboxEvent, EventDelivery],
  schema: outboxSchema,
  jobs: outboxJobs,
});
