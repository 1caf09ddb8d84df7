import type { DomainEvent } from '@atrium/core';

/** Reverse-DNS prefix of every CloudEvent `type`: `api-key.created` goes out as `com.atrium.api-key.created`. */
export const CLOUD_EVENT_TYPE_PREFIX = 'com.atrium.';

/** A CloudEvents 1.0 event in structured JSON mode: what a receiver gets as the request body. */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
}

export function toCloudEvent(event: DomainEvent): CloudEvent {
  return {
    specversion: '1.0',
    // The domain event's id: the same event sent to two endpoints is one CloudEvent (source + id).
    id: event.id,
    source: `/atrium/workspaces/${event.workspaceId}`,
    type: `${CLOUD_EVENT_TYPE_PREFIX}${event.type}`,
    ...(event.subject ? { subject: event.subject } : {}),
    time: event.occurredAt.toISOString(),
    datacontenttype: 'application/json',
    data: event.payload,
  };
}
