import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../graphql/builder.ts';
import { enumValues } from '../../graphql/helpers.ts';
import { NotFoundError, ValidationError } from '../../kernel/errors.ts';
import type { ModuleRuntime } from '../../kernel/plugin.ts';
import { deliveryStatuses, EventDelivery, type EventDeliveryEntity } from './entities.ts';
import { listEventDeliveries, retryEventDelivery } from './service.ts';

/** Admins see each handler's work on each event and send dead-lettered ones back. */
export function outboxSchema(builder: AtriumBuilder, _refs: unknown, runtime: ModuleRuntime): void {
  const Status = builder.enumType('EventDeliveryStatus', {
    values: enumValues(deliveryStatuses),
  });

  const EventDeliveryRef = builder.objectRef<EventDeliveryEntity>('EventDelivery');
  builder.node(EventDeliveryRef, {
    authScopes: { admin: true },
    description: 'One handler working on one domain event; DEAD after its retries ran out',
    id: { resolve: (d) => d.id },
    loadOne: (id, ctx) => ctx.em.findOne(EventDelivery, { id }, { populate: ['event'] }),
    fields: (t) => ({
      handler: t.exposeString('handler'),
      status: t.field({ type: Status, resolve: (d) => d.status }),
      attempts: t.exposeInt('attempts'),
      lastError: t.exposeString('lastError', { nullable: true }),
      eventId: t.string({ resolve: (d) => d.event.id }),
      eventType: t.string({ resolve: (d) => d.event.type }),
      payload: t.field({ type: 'JSON', resolve: (d) => d.event.payload }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
      completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    }),
  });

  builder.queryField('eventDeliveries', (t) =>
    t.connection({
      type: EventDeliveryRef,
      description:
        'Deliveries of domain events to handlers, newest first; filter by DEAD for the dead letters',
      authScopes: { admin: true },
      args: { status: t.arg({ type: Status, required: false }) },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
          listEventDeliveries(ctx.em, { status: args.status }, page),
        ),
    }),
  );

  builder.relayMutationField(
    'retryEventDelivery',
    { inputFields: (t) => ({ id: t.globalID({ required: true, for: EventDeliveryRef }) }) },
    {
      authScopes: { admin: true },
      errors: { types: [NotFoundError, ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        eventDelivery: await retryEventDelivery(ctx.em, runtime.jobs, input.id.id),
      }),
    },
    {
      outputFields: (t) => ({
        eventDelivery: t.field({ type: EventDeliveryRef, resolve: (p) => p.eventDelivery }),
      }),
    },
  );
}
