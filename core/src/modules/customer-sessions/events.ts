import type { EventSubscription } from '../../kernel/plugin.ts';
import { followMergedProfile } from './service.ts';

/** A profile merge: sessions of the merged profile act as the survivor from now on. */
export const customerSessionEvents: EventSubscription[] = [
  {
    on: 'profile.merged',
    name: 'customer-sessions.follow-merged-profile',
    handle: async (event, ctx) => {
      const { survivorId, mergedProfileId } = event.payload as {
        survivorId: string;
        mergedProfileId: string;
      };
      await followMergedProfile(ctx.em, event.workspaceId, survivorId, mergedProfileId);
    },
  },
];
