import type Router from '@koa/router';
import { UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import type { Context } from 'koa';
import { WORKSPACE_FILTER } from '../../../db/orm.ts';
import { transactionalWithRetry } from '../../../db/retry.ts';
import { RateLimiter } from '../../../http/rate-limit.ts';
import { BodyTooLargeError, readBody } from '../../../http/request-body.ts';
import { AtriumError, ValidationError } from '../../../kernel/errors.ts';
import { isUuid } from '../../../kernel/ids.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import { type WebhookRequest, WebhookSignatureError } from '../channels.ts';
import { ChannelInbox, type ChannelInboxEntity } from '../entities.ts';
import { serviceLevels } from '../levels.ts';
import { inboxView } from '../service/inboxes.ts';
import {
  applyDeliveryStatus,
  type LiveNotice,
  messageNotices,
  publishNotices,
  receiveInbound,
} from '../service/messages.ts';

/** Raw MIME with attachments is the largest thing a channel posts; 10 MB is a generous mail. */
const MAX_WEBHOOK_BYTES = 10 * 1024 * 1024;

/**
 * `/channels/<inbox id>/webhook`: where providers post inbound messages and delivery statuses.
 * The channel verifies the signature over the exact bytes before anything is parsed; a bad
 * signature is 401 and nothing is stored. Everything one request carries commits together,
 * and only then is it acknowledged, so a provider's retry after an error loses nothing and a
 * retry after success adds nothing (provider ids are unique per inbox).
 */
export function channelWebhookRoutes(router: Router, runtime: ModuleRuntime): void {
  const limiter = new RateLimiter(runtime.settings.INGEST_RATE_PER_SECOND);

  router.get('/channels/:inboxId/webhook', async (ctx) => {
    const found = await inboxFor(ctx, runtime);
    if (!found) return;
    const { inbox, channel, request } = found;
    const answer = channel.webhook?.handshake?.(request, inboxView(inbox)) ?? null;
    if (answer === null)
      return problem(ctx, 403, 'WEBHOOK_HANDSHAKE_REFUSED', 'the verify token does not match');
    ctx.type = 'text/plain';
    ctx.body = answer;
  });

  router.post('/channels/:inboxId/webhook', async (ctx) => {
    const wait = limiter.take(`inbox:${ctx.params.inboxId}`);
    if (wait > 0) {
      ctx.set('Retry-After', String(Math.ceil(wait)));
      return problem(ctx, 429, 'RATE_LIMITED', 'too many webhook requests for this inbox');
    }
    let rawBody: Buffer;
    try {
      rawBody = await readBody(ctx.req, MAX_WEBHOOK_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return problem(ctx, 413, 'PAYLOAD_TOO_LARGE', error.message);
      throw error;
    }
    const found = await inboxFor(ctx, runtime, rawBody);
    if (!found) return;
    const { inbox, channel, request } = found;
    const view = inboxView(inbox);
    try {
      channel.webhook?.verify(request, view);
      const payload = await channel.webhook?.parse(request, view);
      if (!payload) return problem(ctx, 404, 'NOT_FOUND', `the ${channel.code} channel takes no webhooks`);
      // Two messages of one new sender at once can deadlock in identity resolution: try again.
      const store = () =>
        transactionalWithRetry(runtime.orm.em, async (em) => {
          em.setFilterParams(WORKSPACE_FILTER, { id: inbox.workspace });
          const out: LiveNotice[] = [];
          const levels = serviceLevels(runtime.settings);
          for (const inbound of payload.messages) {
            const received = await receiveInbound(em, inbox, inbound, levels);
            if (received.created) out.push(...messageNotices(received.message, 'message'));
          }
          for (const status of payload.statuses) {
            const message = await applyDeliveryStatus(em, inbox, status);
            if (message) out.push(...messageNotices(message, 'status'));
          }
          return out;
        });
      // A provider's retry that raced its first request: once that one committed, this adds nothing.
      const notices = await store().catch((error) => {
        if (error instanceof UniqueConstraintViolationException) return store();
        throw error;
      });
      await publishNotices(runtime.live, notices, runtime.logger);
      ctx.status = 200;
      ctx.body = { received: payload.messages.length, statuses: payload.statuses.length };
    } catch (error) {
      if (error instanceof WebhookSignatureError) {
        runtime.logger.warn({ inboxId: inbox.id, channel: channel.code }, 'webhook refused: bad signature');
        return problem(ctx, 401, error.code, error.message);
      }
      if (error instanceof ValidationError) return problem(ctx, 400, error.code, error.message, error.field);
      if (error instanceof AtriumError) return problem(ctx, 422, error.code, error.message);
      throw error;
    }
  });
}

async function inboxFor(
  ctx: Context,
  runtime: ModuleRuntime,
  rawBody: Buffer = Buffer.alloc(0),
): Promise<{
  inbox: ChannelInboxEntity;
  channel: NonNullable<ReturnType<ModuleRuntime['channels']['get']>> & { webhook: object };
  request: WebhookRequest;
} | null> {
  const id = String(ctx.params.inboxId);
  // The inbox id is the only thing that names a workspace here: look it up across workspaces.
  const inbox = isUuid(id)
    ? await runtime.orm.em.fork().findOne(ChannelInbox, { id }, { filters: false })
    : null;
  if (!inbox?.enabled) {
    problem(ctx, 404, 'NOT_FOUND', 'no enabled inbox has this id');
    return null;
  }
  const channel = runtime.channels.get(inbox.channel);
  if (!channel?.webhook) {
    problem(ctx, 404, 'NOT_FOUND', `the ${inbox.channel} channel is not installed or takes no webhooks`);
    return null;
  }
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(ctx.headers))
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  const query: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(ctx.query))
    query[name] = Array.isArray(value) ? value[0] : value;
  return { inbox, channel: channel as never, request: { method: ctx.method, headers, query, rawBody } };
}

function problem(ctx: Context, status: number, code: string, message: string, field?: string | null): void {
  ctx.status = status;
  ctx.body = { error: { code, message, ...(field ? { field } : {}) } };
}
