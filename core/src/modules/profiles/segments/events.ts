import type { DomainEvent } from '../../../kernel/events.ts';
import type { EventSubscription } from '../../../kernel/plugin.ts';
import { refreshProfiles } from './evaluate.ts';
import { operatorRegistry } from './operators.ts';

/**
 * The profiles an event is about, whatever its shape: `profileIds` (profile.events-ingested),
 * `profileId` (profile.traits-changed, consent.changed), `survivorId` (profile.merged), else the subject.
 */
export function profileIdsOf(event: DomainEvent): string[] {
  const p = event.payload;
  const ids = Array.isArray(p.profileIds)
    ? p.profileIds
    : [p.profileId ?? p.survivorId ?? event.subject].filter((id) => id !== undefined && id !== null);
  return ids.filter((id): id is string => typeof id === 'string');
}

/** What changes what segments and computed traits see: new or moved events, traits, consent. */
export const SEGMENT_TRIGGERS = [
  'profile.events-ingested',
  'profile.merged',
  'profile.traits-changed',
  'consent.changed',
];

/**
 * Re-evaluates the profiles an event names inside the delivery's transaction, so memberships,
 * computed traits and `segment.entered` / `segment.exited` commit exactly once with the delivery.
 */
export const segmentSubscriptions: EventSubscription[] = [
  {
    name: 'segments.refresh',
    on: SEGMENT_TRIGGERS,
    handle: async (event, ctx) => {
      const ids = profileIdsOf(event);
      if (ids.length === 0) return;
      await refreshProfiles(ctx.em, event.workspaceId, ids, {
        operators: operatorRegistry(ctx.segmentOperators),
        logger: ctx.logger,
      });
    },
  },
];
