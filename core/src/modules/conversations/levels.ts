import type { Settings } from '../../kernel/config.ts';
import type { ModuleRuntime } from '../../kernel/plugin.ts';
import type { ServiceLevels } from './service/conversations.ts';
import type { SendDependencies } from './service/messages.ts';

/** The service levels new conversations get, from the settings. */
export function serviceLevels(settings: Settings): ServiceLevels {
  return {
    firstResponseMinutes: settings.CONVERSATION_FIRST_RESPONSE_MINUTES,
    resolutionHours: settings.CONVERSATION_RESOLUTION_HOURS,
  };
}

/**
 * What sending needs from a module's runtime: the channels, the job queue, the service levels
 * and the retry policy of deliveries. Plugins pass `conversationDependencies(ctx)` to
 * `sendMessage` and `requestHandoff`.
 */
export function conversationDependencies(
  runtime: Pick<ModuleRuntime<unknown>, 'channels' | 'jobs' | 'settings'>,
): SendDependencies {
  return {
    channels: runtime.channels,
    jobs: runtime.jobs,
    levels: serviceLevels(runtime.settings),
    delivery: {
      retryLimit: runtime.settings.CONVERSATION_DELIVERY_RETRIES,
      retryDelaySeconds: runtime.settings.CONVERSATION_DELIVERY_RETRY_DELAY_S,
    },
  };
}
