import {
  type DomainEvent,
  isObviouslyPrivate,
  type JobQueue,
  NotFoundError,
  ValidationError,
} from '@atrium/core';
import { type EntityManager, LockMode } from '@mikro-orm/postgresql';
import { toCloudEvent } from './cloud-event.ts';
import {
  WebhookDelivery,
  type WebhookDeliveryEntity,
  type WebhookDeliveryStatus,
  WebhookEndpoint,
  type WebhookEndpointEntity,
} from './entities.ts';
import { generateWebhookSecret } from './signing.ts';

/** The pg-boss queue that makes one HTTP attempt per job. */
export const DELIVER_QUEUE = 'webhooks.deliver';

export interface DeliverJob {
  deliveryId: string;
  /** Confines the job's entity manager to the delivery's workspace. */
  workspaceId: string;
}

export interface EndpointRules {
  allowPrivateNetworks: boolean;
}

export interface EndpointInput {
  url: string;
  description?: string | null;
  eventTypes: string[];
  enabled?: boolean | null;
}

/** Omitted (or null) fields stay as they are, except `description`, which null clears. */
export interface EndpointPatch {
  url?: string | null;
  description?: string | null;
  eventTypes?: string[] | null;
  enabled?: boolean | null;
}

export interface EndpointWithSecret {
  endpoint: WebhookEndpointEntity;
  /** Shown once, in the answer that created it. */
  secret: string;
}

const EVENT_TYPE = /^(?:\*|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)*(?:\.\*)?)$/;
const MAX_EVENT_TYPES = 100;

function checkUrl(raw: string, rules: EndpointRules): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ValidationError('url must be an absolute http or https URL', 'url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError(`url must use http or https, not ${url.protocol.slice(0, -1)}`, 'url');
  }
  // fetch refuses URLs with credentials; receivers authenticate requests by the signature.
  if (url.username || url.password)
    throw new ValidationError('url must not contain a user name or password', 'url');
  if (url.href.length > 2048) throw new ValidationError('url must be at most 2048 characters', 'url');
  if (!rules.allowPrivateNetworks && isObviouslyPrivate(url)) {
    throw new ValidationError('url points to a private network, which this deployment does not allow', 'url');
  }
  return url.href;
}

function checkEventTypes(types: string[]): string[] {
  const unique = [...new Set(types.map((t) => t.trim()))];
  if (unique.length === 0)
    throw new ValidationError('eventTypes must name at least one event type, or "*"', 'eventTypes');
  if (unique.length > MAX_EVENT_TYPES)
    throw new ValidationError(`eventTypes may list at most ${MAX_EVENT_TYPES}`, 'eventTypes');
  const bad = unique.find((t) => t.length > 200 || !EVENT_TYPE.test(t));
  if (bad !== undefined) {
    throw new ValidationError(
      `eventTypes: "${bad}" is not an event type like "api-key.created", "api-key.*" or "*"`,
      'eventTypes',
    );
  }
  return unique.includes('*') ? ['*'] : unique;
}

function checkDescription(description: string | null | undefined): string | null {
  const text = description?.trim() ?? '';
  if (text.length > 500)
    throw new ValidationError('description must be at most 500 characters', 'description');
  return text || null;
}

export function matchesEventType(filter: string[], type: string): boolean {
  return filter.some((t) => t === '*' || t === type || (t.endsWith('.*') && type.startsWith(t.slice(0, -1))));
}

export async function createWebhookEndpoint(
  em: EntityManager,
  workspaceId: string,
  input: EndpointInput,
  rules: EndpointRules,
): Promise<EndpointWithSecret> {
  const secret = generateWebhookSecret();
  const endpoint = em.create(WebhookEndpoint, {
    workspace: workspaceId,
    url: checkUrl(input.url, rules),
    description: checkDescription(input.description),
    eventTypes: checkEventTypes(input.eventTypes),
    enabled: input.enabled ?? true,
    secret,
  });
  await em.flush();
  return { endpoint, secret };
}

async function findEndpoint(em: EntityManager, id: string): Promise<WebhookEndpointEntity> {
  const endpoint = await em.findOne(WebhookEndpoint, { id });
  if (!endpoint) throw new NotFoundError('Webhook endpoint');
  return endpoint;
}

/** Changes only the fields given; every given field is checked before anything is written. */
export async function updateWebhookEndpoint(
  em: EntityManager,
  id: string,
  patch: EndpointPatch,
  rules: EndpointRules,
): Promise<WebhookEndpointEntity> {
  const endpoint = await findEndpoint(em, id);
  const url = patch.url == null ? endpoint.url : checkUrl(patch.url, rules);
  const eventTypes = patch.eventTypes == null ? endpoint.eventTypes : checkEventTypes(patch.eventTypes);
  const description =
    patch.description === undefined ? endpoint.description : checkDescription(patch.description);
  em.assign(endpoint, { url, eventTypes, description, enabled: patch.enabled ?? endpoint.enabled });
  await em.flush();
  return endpoint;
}

/** Deletes the endpoint and its delivery log; queued attempts find nothing and stop. */
export async function deleteWebhookEndpoint(em: EntityManager, id: string): Promise<string> {
  const endpoint = await findEndpoint(em, id);
  await em.remove(endpoint).flush();
  return id;
}

/**
 * A new secret, returned once. For `overlapSeconds` deliveries are signed with the old
 * secret too, so receivers can switch without dropping a request; 0 revokes it at once.
 */
export async function rotateWebhookSecret(
  em: EntityManager,
  id: string,
  overlapSeconds: number,
): Promise<EndpointWithSecret> {
  if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > 7 * 86400) {
    throw new ValidationError('overlapSeconds must be between 0 and 604800 (7 days)', 'overlapSeconds');
  }
  const endpoint = await findEndpoint(em, id);
  const secret = generateWebhookSecret();
  em.assign(endpoint, {
    previousSecret: overlapSeconds > 0 ? endpoint.secret : null,
    previousSecretExpiresAt: overlapSeconds > 0 ? new Date(Date.now() + overlapSeconds * 1000) : null,
    secret,
  });
  await em.flush();
  return { endpoint, secret };
}

/** The secrets a delivery is signed with right now: the current one, and the previous during its overlap. */
export function signingSecrets(endpoint: WebhookEndpointEntity, now = new Date()): string[] {
  const previous = endpoint.previousSecret;
  const overlapping = previous && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now;
  return overlapping ? [endpoint.secret, previous] : [endpoint.secret];
}

export interface Page {
  limit: number;
  offset: number;
}

export function listWebhookEndpoints(em: EntityManager, page: Page): Promise<WebhookEndpointEntity[]> {
  return em.find(WebhookEndpoint, {}, { orderBy: { createdAt: 'desc', id: 'asc' }, ...page });
}

export function listWebhookDeliveries(
  em: EntityManager,
  filter: { endpointId?: string | null; status?: WebhookDeliveryStatus | null },
  page: Page,
): Promise<WebhookDeliveryEntity[]> {
  return em.find(
    WebhookDelivery,
    {
      ...(filter.endpointId ? { endpoint: filter.endpointId } : {}),
      ...(filter.status ? { status: filter.status } : {}),
    },
    { orderBy: { createdAt: 'desc', id: 'asc' }, populate: ['endpoint'], ...page },
  );
}

/**
 * Fans a domain event out to the workspace's enabled endpoints whose filter matches: one
 * delivery row and one queued attempt each, in the caller's transaction. No HTTP here.
 */
export async function queueDeliveries(
  em: EntityManager,
  jobs: JobQueue,
  event: DomainEvent,
): Promise<WebhookDeliveryEntity[]> {
  const endpoints = await em.find(WebhookEndpoint, { workspace: event.workspaceId, enabled: true });
  const matching = endpoints.filter((e) => matchesEventType(e.eventTypes, event.type));
  if (matching.length === 0) return [];
  const payload = toCloudEvent(event);
  const deliveries = matching.map((endpoint) =>
    em.create(WebhookDelivery, {
      workspace: event.workspaceId,
      endpoint,
      eventId: event.id,
      eventType: event.type,
      payload,
      nextAttemptAt: new Date(),
    }),
  );
  await em.flush();
  for (const delivery of deliveries) await sendAttempt(jobs, em, delivery);
  return deliveries;
}

function sendAttempt(
  jobs: JobQueue,
  em: EntityManager,
  delivery: WebhookDeliveryEntity,
): Promise<string | null> {
  return jobs.send(
    DELIVER_QUEUE,
    { deliveryId: delivery.id, workspaceId: delivery.workspace } satisfies DeliverJob,
    { em },
  );
}

/** Sends a failed delivery again with a fresh set of attempts; the job is queued in the same transaction. */
export async function redeliverWebhook(
  em: EntityManager,
  jobs: JobQueue,
  id: string,
): Promise<WebhookDeliveryEntity> {
  return em.transactional(async (tem) => {
    const delivery = await tem.findOne(
      WebhookDelivery,
      { id },
      { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['endpoint'] },
    );
    if (!delivery) throw new NotFoundError('Webhook delivery');
    if (delivery.status !== 'failed') {
      throw new ValidationError(
        `only failed deliveries can be redelivered; this one is ${delivery.status}`,
        'deliveryId',
      );
    }
    if (!delivery.endpoint.enabled) {
      throw new ValidationError('the endpoint is disabled: enable it before redelivering', 'deliveryId');
    }
    delivery.status = 'pending';
    delivery.nextAttemptAt = new Date();
    await tem.flush();
    await sendAttempt(jobs, tem, delivery);
    return delivery;
  });
}

export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  /** When pg-boss will retry at the earliest; null when this was the last attempt. */
  nextAttemptAt: Date | null;
}

export async function recordAttempt(
  em: EntityManager,
  delivery: WebhookDeliveryEntity,
  outcome: AttemptOutcome,
): Promise<void> {
  delivery.attempts += 1;
  delivery.lastStatusCode = outcome.statusCode;
  delivery.lastError = outcome.error?.slice(0, 500) ?? null;
  if (outcome.ok) {
    delivery.status = 'succeeded';
    delivery.deliveredAt = new Date();
    delivery.nextAttemptAt = null;
  } else {
    delivery.nextAttemptAt = outcome.nextAttemptAt;
  }
  await em.flush();
}

/** Retries ran out (or the endpoint is gone or disabled): the delivery is dead until someone redelivers it. */
export async function markDeliveryFailed(
  em: EntityManager,
  deliveryId: string,
  reason?: string,
): Promise<void> {
  const delivery = await em.findOne(WebhookDelivery, { id: deliveryId });
  if (delivery?.status !== 'pending') return;
  delivery.status = 'failed';
  delivery.nextAttemptAt = null;
  if (reason) delivery.lastError = reason;
  await em.flush();
}
