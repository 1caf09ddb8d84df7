import type { EntityManager } from '@mikro-orm/postgresql';
import { OutboxEvent } from '../modules/outbox/entities.ts';

/** Something that happened in a workspace, as handlers and webhooks see it. */
export interface DomainEvent<Payload = Record<string, unknown>> {
  id: string;
  type: string;
  workspaceId: string;
  /** The id of the thing the event is about, when there is one. */
  subject: string | null;
  occurredAt: Date;
  payload: Payload;
}

export interface NewDomainEvent<Payload = Record<string, unknown>> {
  type: string;
  workspaceId: string;
  subject?: string | null;
  payload: Payload;
}

/**
 * Records an event in the outbox through the caller's entity manager, so the event
 * commits (or rolls back) with the change that caused it. Dispatch happens after commit.
 */
export function recordEvent(em: EntityManager, event: NewDomainEvent): DomainEvent {
  const row = em.create(OutboxEvent, {
    workspace: event.workspaceId,
    type: event.type,
    subject: event.subject ?? null,
    payload: event.payload,
  });
  return toDomainEvent(row);
}

export function toDomainEvent(row: InstanceType<typeof OutboxEvent.class>): DomainEvent {
  return {
    id: row.id,
    type: row.type,
    workspaceId: row.workspace,
    subject: row.subject ?? null,
    occurredAt: row.occurredAt,
    payload: row.payload as Record<string, unknown>,
  };
}
