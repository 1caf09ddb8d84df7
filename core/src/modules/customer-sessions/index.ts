import { defineModule } from '../../kernel/plugin.ts';
import { CustomerSession } from './entities.ts';
import { customerSessionEvents } from './events.ts';
import { customerSessionJobs } from './jobs.ts';
import { eraseCustomerSessions, exportCustomerSessions } from './privacy.ts';
import { customerSessionsSchema } from './schema.ts';

/**
 * Customers acting for themselves (web chat visitors, self-service flows): opaque session
 * tokens bound to a profile, which the authenticator turns into `customer` principals.
 */
export const customerSessionsModule = defineModule({
  name: 'customer-sessions',
  entities: [CustomerSession],
  schema: customerSessionsSchema,
  events: customerSessionEvents,
  jobs: customerSessionJobs,
  exportProfile: exportCustomerSessions,
  eraseProfile: eraseCustomerSessions,
});
