import {
  type AtriumBuilder,
  type CoreRefs,
  enumValues,
  type ModuleRuntime,
  NotFoundError,
  ValidationError,
  workspaceIdOf,
} from '@atrium/core';
import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { WebhooksConfig } from './config.ts';
import {
  WebhookDelivery,
  type WebhookDeliveryEntity,
  WebhookEndpoint,
  type WebhookEndpointEntity,
  webhookDeliveryStatuses,
} from './entities.ts';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  redeliverWebhook,
  rotateWebhookSecret,
  updateWebhookEndpoint,
} from './service.ts';

const DEFAULT_OVERLAP_SECONDS = 86_400;

/** Admins manage endpoints, read the delivery log and send failed deliveries again. */
export function webhooksSchema(
  builder: AtriumBuilder,
  _refs: CoreRefs,
  runtime: ModuleRuntime<WebhooksConfig>,
): void {
  const rules = { allowPrivateNetworks: runtime.config.allowPrivateNetworks };

  const Status = builder.enumType('WebhookDeliveryStatus', {
    description: 'PENDING while attempts remain, SUCCEEDED on a 2xx answer, FAILED once retries ran out',
    values: enumValues(webhookDeliveryStatuses),
  });

  const EndpointRef = builder.objectRef<WebhookEndpointEntity>('WebhookEndpoint');
  builder.node(EndpointRef, {
    authScopes: { admin: true },
    description: 'A URL that receives signed CloudEvents for the event types it subscribes to',
    id: { resolve: (e) => e.id },
    loadOne: (id, ctx) => ctx.em.findOne(WebhookEndpoint, { id }),
    fields: (t) => ({
      url: t.exposeString('url'),
      description: t.exposeString('description', { nullable: true }),
      eventTypes: t.exposeStringList('eventTypes', {
        description: 'Event types such as "api-key.created", prefixes such as "api-key.*", or ["*"] for all',
      }),
      enabled: t.exposeBoolean('enabled'),
      secretHint: t.string({
        description: 'The first characters of the signing secret, to tell secrets apart',
        resolve: (e) => `${e.secret.slice(0, 10)}…`,
      }),
      previousSecretExpiresAt: t.expose('previousSecretExpiresAt', {
        type: 'DateTime',
        nullable: true,
        description: 'Until then deliveries are signed with the secret before the last rotation too',
      }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    }),
  });

  const DeliveryRef = builder.objectRef<WebhookDeliveryEntity>('WebhookDelivery');
  builder.node(DeliveryRef, {
    authScopes: { admin: true },
    description: 'One event sent to one endpoint; `id` is the `webhook-id` header receivers deduplicate by',
    id: { resolve: (d) => d.id },
    loadOne: (id, ctx) => ctx.em.findOne(WebhookDelivery, { id }, { populate: ['endpoint'] }),
    fields: (t) => ({
      endpoint: t.field({ type: EndpointRef, resolve: (d) => d.endpoint }),
      eventId: t.exposeString('eventId'),
      eventType: t.exposeString('eventType'),
      payload: t.field({
        type: 'JSON',
        description: 'The CloudEvent sent as the body',
        resolve: (d) => d.payload,
      }),
      status: t.field({ type: Status, resolve: (d) => d.status }),
      attempts: t.exposeInt('attempts'),
      lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
      lastError: t.exposeString('lastError', { nullable: true }),
      nextAttemptAt: t.expose('nextAttemptAt', {
        type: 'DateTime',
        nullable: true,
        description: 'The earliest time of the next attempt; null when none is planned',
      }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    }),
  });

  builder.queryField('webhookEndpoints', (t) =>
    t.connection({
      type: EndpointRef,
      description: "The workspace's webhook endpoints, newest first",
      authScopes: { admin: true },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
          listWebhookEndpoints(ctx.em, page),
        ),
    }),
  );

  builder.queryField('webhookDeliveries', (t) =>
    t.connection({
      type: DeliveryRef,
      description: 'The delivery log, newest first; FAILED lists the deliveries to redeliver',
      authScopes: { admin: true },
      args: {
        endpointId: t.arg.globalID({ for: EndpointRef }),
        status: t.arg({ type: Status }),
      },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
          listWebhookDeliveries(ctx.em, { endpointId: args.endpointId?.id, status: args.status }, page),
        ),
    }),
  );

  builder.relayMutationField(
    'createWebhookEndpoint',
    {
      inputFields: (t) => ({
        url: t.string({ required: true, description: 'http or https' }),
        description: t.string(),
        eventTypes: t.stringList({
          required: true,
          description: 'e.g. ["api-key.created"], ["api-key.*"] or ["*"]',
        }),
        enabled: t.boolean({ description: 'Default true' }),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError] },
      resolve: (_root, { input }, ctx) => createWebhookEndpoint(ctx.em, workspaceIdOf(ctx), input, rules),
    },
    {
      outputFields: (t) => ({
        webhookEndpoint: t.field({ type: EndpointRef, resolve: (p) => p.endpoint }),
        secret: t.string({
          description: 'The signing secret, shown only in this answer: store it now',
          resolve: (p) => p.secret,
        }),
      }),
    },
  );

  builder.relayMutationField(
    'updateWebhookEndpoint',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true, for: EndpointRef }),
        url: t.string(),
        description: t.string({ description: 'An empty string clears it' }),
        eventTypes: t.stringList(),
        enabled: t.boolean(),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input: { id, ...patch } }, ctx) => ({
        webhookEndpoint: await updateWebhookEndpoint(ctx.em, id.id, patch, rules),
      }),
    },
    {
      outputFields: (t) => ({
        webhookEndpoint: t.field({ type: EndpointRef, resolve: (p) => p.webhookEndpoint }),
      }),
    },
  );

  builder.relayMutationField(
    'deleteWebhookEndpoint',
    { inputFields: (t) => ({ id: t.globalID({ required: true, for: EndpointRef }) }) },
    {
      authScopes: { admin: true },
      errors: { types: [NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        deletedId: await deleteWebhookEndpoint(ctx.em, input.id.id),
      }),
    },
    {
      outputFields: (t) => ({
        deletedWebhookEndpointId: t.globalID({
          resolve: (p) => ({ type: 'WebhookEndpoint', id: p.deletedId }),
        }),
      }),
    },
  );

  builder.relayMutationField(
    'rotateWebhookSecret',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true, for: EndpointRef }),
        overlapSeconds: t.int({
          description: `How long deliveries are signed with the old secret too (default ${DEFAULT_OVERLAP_SECONDS}); 0 revokes it now`,
        }),
      }),
    },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: (_root, { input }, ctx) =>
        rotateWebhookSecret(ctx.em, input.id.id, input.overlapSeconds ?? DEFAULT_OVERLAP_SECONDS),
    },
    {
      outputFields: (t) => ({
        webhookEndpoint: t.field({ type: EndpointRef, resolve: (p) => p.endpoint }),
        secret: t.string({
          description: 'The new signing secret, shown only in this answer',
          resolve: (p) => p.secret,
        }),
      }),
    },
  );

  builder.relayMutationField(
    'redeliverWebhook',
    { inputFields: (t) => ({ deliveryId: t.globalID({ required: true, for: DeliveryRef }) }) },
    {
      authScopes: { admin: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        webhookDelivery: await redeliverWebhook(ctx.em, runtime.jobs, input.deliveryId.id),
      }),
    },
    {
      outputFields: (t) => ({
        webhookDelivery: t.field({ type: DeliveryRef, resolve: (p) => p.webhookDelivery }),
      }),
    },
  );
}
