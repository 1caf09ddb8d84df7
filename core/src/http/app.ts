import { Readable } from 'node:stream';
import Router from '@koa/router';
import type { YogaServerInstance } from 'graphql-yoga';
import Koa from 'koa';
import type { Registry } from 'prom-client';
import type { GraphQLContext } from '../graphql/context.ts';
import type { Logger } from '../kernel/logger.ts';
import { type HealthCheck, healthRoutes } from './health.ts';
import { type RequestState, requestIdAndLogging } from './request-id.ts';

export interface HttpAppOptions {
  logger: Logger;
  metrics: { registry: Registry; middleware: Koa.Middleware };
  graphql: {
    path: string;
    yoga: YogaServerInstance<{ koa: Koa.ParameterizedContext<RequestState> }, GraphQLContext>;
  }[];
  healthChecks: Map<string, HealthCheck>;
  isShuttingDown: () => boolean;
  /** Module routers and where they are mounted ('' for the root). */
  moduleRouters: { prefix: string; router: Router }[];
}

export function createHttpApp(options: HttpAppOptions): Koa<RequestState> {
  const app = new Koa<RequestState>({ proxy: true });
  app.silent = true;
  app.on('error', (error) => options.logger.error({ err: error }, 'unhandled HTTP error'));
  app.use(requestIdAndLogging(options.logger));
  app.use(options.metrics.middleware);

  const router = new Router<RequestState>();
  healthRoutes(router, options.healthChecks, options.isShuttingDown);
  router.get('/metrics', async (ctx) => {
    ctx.type = options.metrics.registry.contentType;
    ctx.body = await options.metrics.registry.metrics();
  });
  for (const { path, yoga } of options.graphql) {
    router.all(path, async (ctx) => {
      const response: Response = await yoga.handleNodeRequestAndResponse(ctx.req, ctx.res, { koa: ctx });
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
