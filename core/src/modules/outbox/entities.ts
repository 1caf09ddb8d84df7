import { defineEntity, p } from '@mikro-orm/postgresql';
import { createdAtColumn, idColumn, updatedAtColumn } from '../../db/columns.ts';
import { belongsToWorkspace } from '../workspaces/entities.ts';

/** A domain event written in the same transaction as the change that caused it. */
export const OutboxEvent = defineEntity({
  name: 'OutboxEvent',
  tableName: 'outbox_event',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    type: p.string().length(200),
    subject: p.string().length(200).nullable(),
    payload: p.json<Record<string, unknown>>(),
    occurredAt: p.datetime().onCreate(() => new Date()),
    /** Set once deliveries for every subscribed handler have been queued. */
    publishedAt: p.datetime().nullable().index('outbox_event_published_at_idx'),
  },
});

export const deliveryStatuses = ['pending', 'succeeded', 'dead'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

/** One handler's work on one event: its attempts, last error and whether it gave up. */
export const EventDelivery = defineEntity({
  name: 'EventDelivery',
  tableName: 'event_delivery',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    event: () => p.manyToOne(OutboxEvent),
    handler: p.string().length(200),
    status: p.enum(deliveryStatuses).default('pending'),
    attempts: p.integer().default(0),
    lastError: p.text().nullable(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
    completedAt: p.datetime().nullable(),
  },
  uniques: [{ properties: ['event', 'handler'] }],
  indexes: [{ properties: ['workspace', 'status'] }],
});

export type EventDeliveryEntity = InstanceType<typeof EventDelivery.class>;
