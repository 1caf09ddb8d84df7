import { Readable } from 'node:stream';
import Router from '@koa/router';
import type { YogaServerInstance } from 'graphql-yoga';
import Koa from 'koa';
import type { Registry } from 'prom-client';
import type { GraphQLContext } from '../graphql/context.ts';
import type { Logger } from '../kernel/logger.ts';
import { GraphQLRateLimit, type GraphQLRateLimitOptions } from './graphql-rate-limit.ts';
import { type HealthCheck, healthRoutes } from './health.ts';
import { BodyTooLargeError, readBody } from './request-body.ts';
import { type RequestState, requestIdAndLogging } from './request-id.ts';

export interface HttpAppOptions {
  logger: Logger;
  metrics: { registry: Registry; middleware: Koa.Middleware };
  graphql: {
    path: string;
    yoga: YogaServerInstance<{ koa: Koa.ParameterizedContext<RequestState> }, GraphQLContext>;
    /** Beyond this rate (per process), 429 with Retry-After before GraphQL sees the request. */
    rateLimit?: GraphQLRateLimitOptions;
  }[];
  healthChecks: Map<string, HealthCheck>;
  isShuttingDown: () => boolean;
  /** Module routers and where they are mounted ('' for the root). */
  moduleRouters: { prefix: string; router: Router }[];
  /** Largest GraphQL request body read; a longer one is answered 413 before GraphQL sees it. */
  graphqlMaxBodyBytes: number;
}

export function createHttpApp(options: HttpAppOptions): Koa<RequestState> {
  // Behind one ingress hop: the client address is the last X-Forwarded-For entry (the one the
  // ingress appended), never the first, which the client writes itself and could vary at will.
  const app = new Koa<RequestState>({ proxy: true, maxIpsCount: 1 });
  app.silent = true;
  app.on('error', (error) => options.logger.error({ err: error }, 'unhandled HTTP error'));
  app.use(requestIdAndLogging(options.logger));
  app.use(options.metrics.middleware);
  app.use(securityHeaders);

  const router = new Router<RequestState>();
  healthRoutes(router, options.healthChecks, options.isShuttingDown);
  router.get('/metrics', async (ctx) => {
    ctx.type = options.metrics.registry.contentType;
    ctx.body = await options.metrics.registry.metrics();
  });
  for (const { path, yoga, rateLimit } of options.graphql) {
    const limiter = rateLimit ? new GraphQLRateLimit(rateLimit) : null;
    router.all(path, async (ctx) => {
      const refused = limiter?.admit(ctx);
      if (refused) {
        ctx.status = 429;
        ctx.set('Retry-After', String(refused.retryAfter));
        ctx.body = { errors: [{ message: refused.message, extensions: { code: 'RATE_LIMITED' } }] };
        return;
      }
      const request = await boundedRequest(ctx, options.graphqlMaxBodyBytes);
      if (!request) return;
      const response: Response = await yoga.fetch(request, { koa: ctx });
      limiter?.settle(ctx, response.status);
      ctx.status = response.status;
      for (const [key, value] of response.headers) ctx.set(key, value);
      if (!response.body) ctx.body = null;
      // Event streams (subscriptions) flow as produced; a plain answer is sent in one write.
      else if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
        ctx.body = Readable.from(response.body as unknown as AsyncIterable<Uint8Array>);
      } else ctx.body = Buffer.from(await response.arrayBuffer());
    });
  }
  for (const { prefix, router: moduleRouter } of options.moduleRouters) {
    if (prefix) router.use(prefix, moduleRouter.routes(), moduleRouter.allowedMethods());
    else router.use(moduleRouter.routes(), moduleRouter.allowedMethods());
  }
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/** Every answer: no MIME sniffing, no referrer leaks, never framed; HSTS when served over HTTPS. */
async function securityHeaders(ctx: Koa.ParameterizedContext<RequestState>, next: Koa.Next): Promise<void> {
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Frame-Options', 'DENY');
  if (ctx.secure) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  await next();
}

/**
 * The request as a fetch Request for graphql-yoga, with the body read up to `limit` bytes; a
 * longer body is answered 413 here (returns null). Its signal aborts when the client goes away,
 * which ends a subscription's stream.
 */
async function boundedRequest(
  ctx: Koa.ParameterizedContext<RequestState>,
  limit: number,
): Promise<Request | null> {
  let body: Buffer | undefined;
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    try {
      body = await readBody(ctx.req, limit);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      ctx.status = 413;
      ctx.set('Connection', 'close');
      ctx.body = { errors: [{ message: error.message, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] };
      return null;
    }
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    if (value === undefined || name === 'content-length' || name === 'transfer-encoding') continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const gone = new AbortController();
  ctx.res.once('close', () => gone.abort());
  return new Request(new URL(ctx.originalUrl, `${ctx.protocol}://${ctx.host || 'localhost'}`), {
    method: ctx.method,
    headers,
    body: body ? new Uint8Array(body) : undefined,
    signal: gone.signal,
  });
}
