import { GraphQLError } from 'graphql';
import type { CORSOptions, Plugin } from 'graphql-yoga';
import { type CallerOptions, callerOf, type ServerContext } from './caller.ts';

// Credentials are bearer headers a page must hold itself, never cookies: no CORS answer allows
// credentials, so a foreign page borrows nothing from a visitor's browser (no ambient authority).
const ANY_ORIGIN: CORSOptions = {
  origin: '*',
  credentials: false,
  methods: ['GET', 'POST'],
  allowedHeaders: ['authorization', 'content-type', 'accept', 'x-api-key', 'x-request-id'],
  maxAge: 600,
};

/**
 * CORS headers per request. A preflight carries no credential, so it cannot name a workspace and
 * is answered for any origin; the request that follows is checked (see `refuseForeignOrigins`)
 * and its answer has no Access-Control-Allow-Origin when its workspace does not list the origin.
 */
export function workspaceCors(options: CallerOptions) {
  // Typed `unknown` by graphql-yoga; it is what app.ts passes to `yoga.fetch`.
  return async (request: Request, serverContext?: unknown): Promise<CORSOptions> => {
    const origin = request.headers.get('origin');
    if (!origin) return ANY_ORIGIN;
    const { koa } = serverContext as ServerContext;
    // A credential that fails is answered 401 elsewhere; the page may read why.
    const caller = await callerOf(koa, options).catch(() => null);
    return allows(caller?.workspace?.allowedOrigins ?? [], origin) ? ANY_ORIGIN : false;
  };
}

/**
 * Refuses, before anything is parsed or run, a browser request (it sends `Origin`) whose
 * credential belongs to a workspace that lists allowed origins without this one.
 */
export function refuseForeignOrigins(options: CallerOptions): Plugin<ServerContext, ServerContext> {
  return {
    async onParams({ context }) {
      const origin = context.koa.get('origin');
      if (!origin) return;
      const { workspace } = await callerOf(context.koa, options);
      if (!workspace || allows(workspace.allowedOrigins, origin)) return;
      throw new GraphQLError(
        `the origin ${origin} may not call with credentials of workspace "${workspace.slug}"; an admin lists allowed origins with updateWorkspaceSecurity`,
        { extensions: { code: 'ORIGIN_NOT_ALLOWED', http: { status: 403 } } },
      );
    },
  };
}

function allows(allowedOrigins: string[], origin: string): boolean {
  return allowedOrigins.length === 0 || allowedOrigins.includes(origin);
}
