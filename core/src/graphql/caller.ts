import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { GraphQLError } from 'graphql';
import type { ParameterizedContext } from 'koa';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Principal } from '../auth/principal.ts';
import { WORKSPACE_FILTER } from '../db/orm.ts';
import type { RequestState } from '../http/request-id.ts';
import { UnauthenticatedError } from '../kernel/errors.ts';
import type { WorkspaceEntity } from '../modules/workspaces/entities.ts';
import type { WorkspaceLookup } from '../modules/workspaces/service.ts';

/** The verified caller of one request, and an entity manager confined to its workspace. */
export interface Caller {
  principal: Principal | null;
  /** Null only for anonymous requests. */
  workspace: WorkspaceEntity | null;
  em: EntityManager;
}

export interface CallerOptions {
  graph: 'admin' | 'public';
  orm: MikroORM;
  authenticator: Authenticator;
  workspaces: WorkspaceLookup;
}

export type KoaContext = ParameterizedContext<RequestState>;
/** What app.ts hands graphql-yoga with each request: the Koa context. */
export type ServerContext = { koa: KoaContext };

const callers = new WeakMap<KoaContext, Promise<Caller>>();

/**
 * Authenticates the request once: the workspace's policies (allowed origins, persisted
 * operations) are checked before the document is parsed, and the context is built later.
 * Refusals are GraphQL errors with their HTTP status (401, or 403 for a customer on Admin).
 */
export function callerOf(koa: KoaContext, options: CallerOptions): Promise<Caller> {
  let caller = callers.get(koa);
  if (!caller) {
    caller = authenticate(koa, options);
    callers.set(koa, caller);
  }
  return caller;
}

async function authenticate(koa: KoaContext, options: CallerOptions): Promise<Caller> {
  const em = options.orm.em.fork();
  try {
    const principal = await options.authenticator.authenticate({
      authorization: koa.get('authorization') || undefined,
      'x-api-key': koa.get('x-api-key') || undefined,
    });
    if (!principal) {
      // Anonymous callers match no workspace: a filter on an impossible id, never "all".
      em.setFilterParams(WORKSPACE_FILTER, { id: '00000000-0000-0000-0000-000000000000' });
      return { principal: null, workspace: null, em };
    }
    // Customers act for themselves on the Public graph only: no Admin field is one step away.
    if (principal.kind === 'customer' && options.graph !== 'public') {
      throw new GraphQLError('a customer session is valid on the Public graph (/public/graphql) only', {
        extensions: { code: 'FORBIDDEN', http: { status: 403 } },
      });
    }
    const workspace = await options.workspaces.bySlug(em, principal.workspaceSlug);
    if (!workspace) {
      throw new UnauthenticatedError(
        `the workspace "${principal.workspaceSlug}" named by the credential does not exist`,
      );
    }
    em.setFilterParams(WORKSPACE_FILTER, { id: workspace.id });
    return { principal, workspace, em };
  } catch (error) {
    if (error instanceof UnauthenticatedError) {
      throw new GraphQLError(error.message, {
        extensions: { code: error.code, http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
      });
    }
    throw error;
  }
}
