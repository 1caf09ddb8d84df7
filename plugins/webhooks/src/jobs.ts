import { assertPublicHost, type JobContext, type JobDefinition } from '@atrium/core';
import type { WebhooksConfig } from './config.ts';
import { WebhookDelivery } from './entities.ts';
import {
  type AttemptOutcome,
  type DeliverJob,
  markDeliveryFailed,
  recordAttempt,
  signingSecrets,
} from './service.ts';
import { webhookHeaders } from './signing.ts';

/** Thrown after a failed attempt is recorded, so that pg-boss schedules the next one. */
export class WebhookAttemptError extends Error {
  override name = 'WebhookAttemptError';
}

/**
 * One HTTP attempt: read the delivery, POST it outside any transaction, record the outcome.
 * 2xx succeeds; anything else (3xx included: redirects are not followed) fails and is retried.
 */
export async function deliverWebhook(data: DeliverJob, ctx: JobContext<WebhooksConfig>): Promise<void> {
  const { em, config } = ctx;
  const delivery = await em.findOne(WebhookDelivery, { id: data.deliveryId }, { populate: ['endpoint'] });
  if (delivery?.status !== 'pending') return;
  const endpoint = delivery.endpoint;
  if (!endpoint.enabled) {
    await markDeliveryFailed(em, delivery.id, 'the endpoint was disabled before this delivery was sent');
    return;
  }

  const body = JSON.stringify(delivery.payload);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/cloudevents+json',
    'user-agent': 'Atrium-Webhooks/1.0',
    ...webhookHeaders(signingSecrets(endpoint), delivery.id, timestamp, body),
  };
  const response = await post(endpoint.url, headers, body, config, ctx.signal);
  const lastAttempt = ctx.attempt >= config.maxAttempts;
  const outcome: AttemptOutcome = {
    ...response,
    nextAttemptAt: response.ok || lastAttempt ? null : earliestRetry(config.retryDelaySeconds, ctx.attempt),
  };
  await recordAttempt(em, delivery, outcome);
  if (!outcome.ok) {
    ctx.logger.warn(
      {
        deliveryId: delivery.id,
        endpointId: endpoint.id,
        attempt: ctx.attempt,
        statusCode: outcome.statusCode,
        error: outcome.error,
      },
      lastAttempt
        ? 'webhook delivery failed for the last time'
        : 'webhook delivery failed; it will be retried',
    );
    throw new WebhookAttemptError(
      `webhook delivery ${delivery.id} attempt ${ctx.attempt} failed: ${outcome.error}`,
    );
  }
}

async function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  config: WebhooksConfig,
  jobSignal: AbortSignal,
): Promise<Omit<AttemptOutcome, 'nextAttemptAt'>> {
  try {
    if (!config.allowPrivateNetworks) await assertPublicHost(new URL(url));
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(config.timeoutMs), jobSignal]),
    });
    const ok = response.status >= 200 && response.status < 300;
    const excerpt = ok ? '' : await responseExcerpt(response);
    await response.body?.cancel().catch(() => {});
    return {
      ok,
      statusCode: response.status,
      error: ok ? null : `HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`,
    };
  } catch (error) {
    return { ok: false, statusCode: null, error: describe(error, config.timeoutMs) };
  }
}

/** The start of an error answer, to show in the delivery log; never more than 200 characters. */
async function responseExcerpt(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const { value } = await reader.read().catch(() => ({ value: undefined }));
  await reader.cancel().catch(() => {});
  return value ? new TextDecoder().decode(value.slice(0, 200)).replace(/\s+/g, ' ').trim() : '';
}

function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  if (error instanceof Error && error.name === 'AbortError')
    return 'the attempt was interrupted (worker stopping)';
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** pg-boss backs off by retryDelay × 2^(attempt-1) to twice that (jitter); the log shows the lower bound. */
function earliestRetry(retryDelaySeconds: number, attempt: number): Date {
  return new Date(Date.now() + retryDelaySeconds * 2 ** Math.min(16, attempt - 1) * 1000);
}

export function deliverJob(config: WebhooksConfig): JobDefinition<WebhooksConfig, DeliverJob> {
  return {
    handle: deliverWebhook,
    retryLimit: config.maxAttempts - 1,
    retryDelaySeconds: config.retryDelaySeconds,
    retryBackoff: true,
    retryDelayMaxSeconds: 3600,
    // One slow endpoint must not hold up every other delivery of this worker.
    concurrency: 8,
    // Room for the request's own timeout and the bookkeeping around it.
    expireInSeconds: Math.ceil(config.timeoutMs / 1000) + 60,
    onDeadLetter: (data, ctx) => markDeliveryFailed(ctx.em, data.deliveryId),
  };
}
