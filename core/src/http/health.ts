import type Router from '@koa/router';

export type HealthCheck = () => Promise<void>;

/**
 * /healthz says the process is alive; /readyz runs every check (database, job queue and
 * each configured service) and answers 503 naming what failed, or while shutting down.
 */
export function healthRoutes(
  router: Router,
  checks: Map<string, HealthCheck>,
  isShuttingDown: () => boolean,
): void {
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    if (isShuttingDown()) {
      ctx.status = 503;
      ctx.body = { status: 'shutting-down', checks: {} };
      return;
    }
    const results = await Promise.all(
      [...checks].map(async ([name, check]) => {
        try {
          await withTimeout(check(), 3000);
          return [name, { status: 'ok' }] as const;
        } catch (error) {
          return [
            name,
            { status: 'failed', error: error instanceof Error ? error.message : String(error) },
          ] as const;
        }
      }),
    );
    const ready = results.every(([, r]) => r.status === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ok' : 'not-ready', checks: Object.fromEntries(results) };
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
