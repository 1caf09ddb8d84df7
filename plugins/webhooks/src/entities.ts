import { belongsToWorkspace, createdAtColumn, idColumn, updatedAtColumn } from '@atrium/core';
import { defineEntity, p } from '@mikro-orm/postgresql';
import type { CloudEvent } from './cloud-event.ts';

/** A receiver URL in a workspace and the event types it wants. */
export const WebhookEndpoint = defineEntity({
  name: 'WebhookEndpoint',
  tableName: 'webhook_endpoint',
  properties: {
    id: idColumn(),
    workspace: () => belongsToWorkspace().index(),
    url: p.string().length(2048),
    description: p.string().length(500).nullable(),
    /** Exact types, `prefix.*`, or `['*']` for every event. */
    eventTypes: p.array(),
    enabled: p.boolean().default(true),
    /** Kept in clear: signing needs it. `whsec_` + base64 of 32 random bytes (Standard Webhooks). */
    secret: p.string().length(100).hidden(),
    /** After a rotation, deliveries carry a signature with this one too until it expires. */
    previousSecret: p.string().length(100).nullable().hidden(),
    previousSecretExpiresAt: p.datetime().nullable(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
});

export type WebhookEndpointEntity = InstanceType<typeof WebhookEndpoint.class>;

export const webhookDeliveryStatuses = ['pending', 'succeeded', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof webhookDeliveryStatuses)[number];

/** One event sent to one endpoint: the exact body, every attempt's outcome, and whether it gave up. */
export const WebhookDelivery = defineEntity({
  name: 'WebhookDelivery',
  tableName: 'webhook_delivery',
  properties: {
    id: idColumn(),
    workspace: belongsToWorkspace,
    // The log goes with its endpoint: deleting an endpoint deletes its deliveries.
    endpoint: () => p.manyToOne(WebhookEndpoint).deleteRule('cascade'),
    eventId: p.uuid(),
    eventType: p.string().length(200),
    payload: p.json<CloudEvent>(),
    status: p.enum(webhookDeliveryStatuses).default('pending'),
    attempts: p.integer().default(0),
    lastStatusCode: p.integer().nullable(),
    lastError: p.string().length(500).nullable(),
    /** The earliest time of the next retry (pg-boss adds jitter); null when none is planned. */
    nextAttemptAt: p.datetime().nullable(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
    deliveredAt: p.datetime().nullable(),
  },
  uniques: [{ properties: ['endpoint', 'eventId'] }],
  indexes: [{ properties: ['workspace', 'status'] }],
});

export type WebhookDeliveryEntity = InstanceType<typeof WebhookDelivery.class>;
