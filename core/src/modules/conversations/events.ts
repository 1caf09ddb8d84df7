import { WORKSPACE_FILTER } from '../../db/orm.ts';
import type { EventSubscription } from '../../kernel/plugin.ts';
import { adoptMergedProfile } from './service/conversations.ts';

/** A profile merge moves the merged profile's conversations to the survivor and joins live threads. */
export const conversationEvents: EventSubscription[] = [
  {
    on: 'profile.merged',
    name: 'conversations.adopt-merged-profile',
    handle: async (event, ctx) => {
      const { survivorId, mergedProfileId } = event.payload as {
        survivorId: string;
        mergedProfileId: string;
      };
      ctx.em.setFilterParams(WORKSPACE_FILTER, { id: event.workspaceId });
      await adoptMergedProfile(ctx.em, event.workspaceId, survivorId, mergedProfileId);
    },
  },
];
