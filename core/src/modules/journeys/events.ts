import { sql } from '../../db/sql.ts';
import type { EventSubscription } from '../../kernel/plugin.ts';
import { onEventsIngested, onSegmentChange, onTraitsChanged } from './engine/triggers.ts';

/** Triggers, waits for events, goals and exits, all from domain events after their commit. */
export const journeyEvents: EventSubscription[] = [
  {
    on: 'profile.events-ingested',
    name: 'journeys.events',
    handle: (event, ctx) =>
      onEventsIngested(
        ctx.em,
        event.workspaceId,
        event.payload as Parameters<typeof onEventsIngested>[2],
        new Date(),
      ),
  },
  {
    on: ['segment.entered', 'segment.exited'],
    name: 'journeys.segments',
    handle: (event, ctx) =>
      onSegmentChange(
        ctx.em,
        event.workspaceId,
        event.type === 'segment.entered' ? 'entered' : 'exited',
        event.payload as { segmentKey: string; profileId: string },
        new Date(),
      ),
  },
  {
    on: 'profile.traits-changed',
    name: 'journeys.traits',
    handle: (event, ctx) =>
      onTraitsChanged(
        ctx.em,
        event.workspaceId,
        event.payload as { profileId: string; changed: string[] },
        new Date(),
      ),
  },
  {
    // Enrollments follow the person: the merged profile's move to the survivor.
    on: 'profile.merged',
    name: 'journeys.merge',
    handle: async (event, ctx) => {
      const { survivorId, mergedProfileId } = event.payload as {
        survivorId: string;
        mergedProfileId: string;
      };
      await sql(
        ctx.em,
        `update journey_enrollment set profile_id = $1 where workspace_id = $2 and profile_id = $3`,
        [survivorId, event.workspaceId, mergedProfileId],
      );
    },
  },
];
