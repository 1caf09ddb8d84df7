import type { Settings } from '../../kernel/config.ts';
import type { ServiceLevels } from './service/conversations.ts';

/** The service levels new conversations get, from the settings. */
export function serviceLevels(settings: Settings): ServiceLevels {
  return {
    firstResponseMinutes: settings.CONVERSATION_FIRST_RESPONSE_MINUTES,
    resolutionHours: settings.CONVERSATION_RESOLUTION_HOURS,
  };
}
