import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import { NotFoundError, ValidationError } from '../../kernel/errors.ts';
import type { JobQueue } from '../../kernel/jobs.ts';
import { type DeliveryStatus, EventDelivery, type EventDeliveryEntity } from './entities.ts';

/** The pg-boss queue that runs one handler on one event. */
export const DELIVERY_QUEUE = 'atrium.event-delivery';
/** Where pg-boss puts a delivery whose retries ran out. */
export const DEAD_LETTER_QUEUE = 'atrium.event-delivery.dead';

export interface DeliveryJob {
  deliveryId: string;
}

export async function listEventDeliveries(
  em: EntityManager,
  filter: { status?: DeliveryStatus | null },
  page: { limit: number; offset: number },
): Promise<EventDeliveryEntity[]> {
  return em.find(EventDelivery, filter.status ? { status: filter.status } : {}, {
    orderBy: { createdAt: 'desc', id: 'asc' },
    limit: page.limit,
    offset: page.offset,
    populate: ['event'],
  });
}

/** Sends a dead delivery back to its handler; the job is queued in the same transaction. */
export async function retryEventDelivery(
  em: EntityManager,
  jobs: JobQueue,
  id: string,
): Promise<EventDeliveryEntity> {
  return em.transactional(async (tem) => {
    const delivery = await tem.findOne(EventDelivery, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!delivery) throw new NotFoundError('Event delivery');
    if (delivery.status !== 'dead') {
      throw new ValidationError(`only dead deliveries can be retried; this one is ${delivery.status}`, 'id');
    }
    delivery.status = 'pending';
    await tem.flush();
    await jobs.send(DELIVERY_QUEUE, { deliveryId: delivery.id } satisfies DeliveryJob, { em: tem });
    await tem.populate(delivery, ['event']);
    return delivery;
  });
}
