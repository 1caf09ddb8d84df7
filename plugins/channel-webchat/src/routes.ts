import { readFileSync } from 'node:fs';
import {
  AtriumError,
  authenticateCustomerSession,
  BodyTooLargeError,
  type ChannelInboxEntity,
  CUSTOMER_SESSION_PREFIX,
  CustomerSession,
  CustomerSessionConflictError,
  type CustomerSessionEntity,
  isUuid,
  type ModuleRuntime,
  openCustomerSession,
  RateLimiter,
  readBody,
  ValidationError,
  WORKSPACE_FILTER,
} from '@atrium/core';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { WebchatConfig } from './config.ts';
import {
  IdentityNotVerifiedError,
  identifyVisitor,
  PLUGIN_NAME,
  settingsOf,
  webchatInboxOf,
} from './service.ts';
import { greetingFor } from './settings.ts';

const MAX_BODY = 4 * 1024;

/**
 * Under /plugins/channel-webchat:
 * - `POST /sessions {inboxId, anonymousId?, locale?}`: a visitor's customer session (rate-limited
 *   per address; the page's origin must be one the inbox allows);
 * - `POST /identify {userId, userHash}` with the session as Bearer: the visitor proves who they are;
 * - `GET /widget.js`: the widget.
 * Browsers get CORS answers for the inbox's allowed origins only; requests without an `Origin`
 * (servers, curl) are not browsers and CORS does not concern them.
 */
export function webchatRoutes(router: Router, runtime: ModuleRuntime<WebchatConfig>): void {
  const limiter = new RateLimiter(runtime.config.sessionsPerSecondPerAddress);
  const widgetSource = readFileSync(new URL('../widget/widget.js', import.meta.url));

  router.get('/widget.js', (ctx) => {
    ctx.type = 'application/javascript; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=300');
    // Any site may load the script (it is the same for everyone); sessions are what the origin check guards.
    ctx.set('Cross-Origin-Resource-Policy', 'cross-origin');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = widgetSource;
  });

  router.options(['/sessions', '/identify'], (ctx) => {
    const origin = ctx.get('origin');
    // The preflight cannot name the inbox (it has no body): the request itself checks the origin.
    if (origin) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Vary', 'Origin');
    }
    ctx.set('Access-Control-Allow-Methods', 'POST');
    ctx.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
    ctx.set('Access-Control-Max-Age', '600');
    ctx.status = 204;
  });

  router.post('/sessions', async (ctx) => {
    const wait = limiter.take(`address:${ctx.ip}`);
    if (wait > 0) {
      ctx.set('Retry-After', String(Math.max(1, Math.ceil(wait))));
      return problem(ctx, 429, 'RATE_LIMITED', 'too many new chat sessions from this address; retry later');
    }
    try {
      const body = await jsonBody(ctx);
      const inboxId = body.inboxId;
      if (!isUuid(inboxId)) {
        throw new ValidationError('inboxId must be the id of a web chat inbox', 'inboxId');
      }
      const inbox = await webchatInboxOf(runtime.orm.em.fork(), inboxId);
      if (!inbox) return problem(ctx, 404, 'NOT_FOUND', 'no enabled web chat inbox has this id');
      if (!originAllowed(ctx, inbox)) return refuseOrigin(ctx);
      const anonymousId = body.anonymousId;
      if (anonymousId != null && typeof anonymousId !== 'string') {
        throw new ValidationError('anonymousId must be a string', 'anonymousId');
      }
      const opened = await runtime.orm.em.fork().transactional(async (em) => {
        em.setFilterParams(WORKSPACE_FILTER, { id: inbox.workspace });
        return openCustomerSession(em, {
          workspaceId: inbox.workspace,
          anonymousId: anonymousId ?? null,
          issuedBy: PLUGIN_NAME,
          inboxId: inbox.id,
          ttlHours: runtime.settings.CUSTOMER_SESSION_TTL_HOURS,
        });
      });
      ctx.status = 201;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        token: opened.token,
        expiresAt: opened.session.expiresAt.toISOString(),
        anonymousId: opened.anonymousId,
        anonymousIdIgnored: opened.anonymousIdIgnored,
        greeting: greetingFor(settingsOf(inbox), typeof body.locale === 'string' ? body.locale : null),
        requireIdentityVerification: settingsOf(inbox).requireIdentityVerification,
      };
    } catch (error) {
      return answerError(ctx, error);
    }
  });

  router.post('/identify', async (ctx) => {
    try {
      const found = await sessionOf(ctx, runtime);
      if (!found) return;
      const { session, inbox } = found;
      if (!originAllowed(ctx, inbox)) return refuseOrigin(ctx);
      const body = await jsonBody(ctx);
      const identified = await runtime.orm.em.fork().transactional(async (em) => {
        em.setFilterParams(WORKSPACE_FILTER, { id: inbox.workspace });
        return identifyVisitor(em, session, inbox, { userId: body.userId, userHash: body.userHash });
      });
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { identified: true, merged: identified.mergedProfileIds.length > 0 };
    } catch (error) {
      return answerError(ctx, error);
    }
  });
}

/** The web chat session named by the Bearer token, or a 401/403 already answered. */
async function sessionOf(
  ctx: Context,
  runtime: ModuleRuntime<WebchatConfig>,
): Promise<{ session: CustomerSessionEntity; inbox: ChannelInboxEntity } | null> {
  const token = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
  if (!token?.startsWith(CUSTOMER_SESSION_PREFIX)) {
    ctx.set('WWW-Authenticate', 'Bearer');
    problem(ctx, 401, 'UNAUTHENTICATED', 'send the chat session as "Authorization: Bearer cst_…"');
    return null;
  }
  const em = runtime.orm.em.fork();
  const principal = await authenticateCustomerSession(em, token);
  if (typeof principal === 'string' || !principal.sessionId) {
    ctx.set('WWW-Authenticate', 'Bearer');
    problem(ctx, 401, 'UNAUTHENTICATED', `invalid customer session (${String(principal)})`);
    return null;
  }
  // The token named the session; its workspace is the session's own.
  const session = await em.fork().findOne(CustomerSession, { id: principal.sessionId }, { filters: false });
  const inbox = session?.inbox ? await webchatInboxOf(em.fork(), session.inbox) : null;
  if (!session || session.issuedBy !== PLUGIN_NAME || !inbox) {
    problem(ctx, 403, 'FORBIDDEN', 'this session does not belong to an open web chat');
    return null;
  }
  return { session, inbox };
}

/** No Origin: not a browser. Otherwise it must be listed; then the answer may be read there. */
function originAllowed(ctx: Context, inbox: ChannelInboxEntity): boolean {
  const origin = ctx.get('origin');
  if (!origin) return true;
  if (!settingsOf(inbox).allowedOrigins.includes(origin)) return false;
  ctx.set('Access-Control-Allow-Origin', origin);
  ctx.set('Vary', 'Origin');
  return true;
}

function refuseOrigin(ctx: Context): void {
  problem(
    ctx,
    403,
    'ORIGIN_NOT_ALLOWED',
    `pages on ${ctx.get('origin')} may not open this chat: add the origin to the inbox's allowedOrigins`,
  );
}

async function jsonBody(ctx: Context): Promise<Record<string, unknown>> {
  const raw = await readBody(ctx.req, MAX_BODY);
  let body: unknown;
  try {
    body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
  } catch {
    throw new ValidationError('the body must be JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Expected failures become 4xx answers that say what was wrong; anything else is a 500. */
function answerError(ctx: Context, error: unknown): void {
  if (error instanceof BodyTooLargeError) {
    problem(ctx, 413, 'PAYLOAD_TOO_LARGE', error.message);
  } else if (error instanceof ValidationError) {
    problem(ctx, 400, error.code, error.message, error.field);
  } else if (error instanceof AtriumError) {
    const status =
      error instanceof IdentityNotVerifiedError
        ? 403
        : error instanceof CustomerSessionConflictError
          ? 409
          : 422;
    problem(ctx, status, error.code, error.message);
  } else {
    throw error;
  }
}

function problem(ctx: Context, status: number, code: string, message: string, field?: string | null): void {
  ctx.status = status;
  ctx.body = { error: { code, message, ...(field ? { field } : {}) } };
}
