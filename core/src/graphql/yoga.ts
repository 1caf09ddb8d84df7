import type { MikroORM } from '@mikro-orm/postgresql';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { ParameterizedContext } from 'koa';
import type { Authenticator } from '../auth/authenticator.ts';
import { WORKSPACE_FILTER } from '../db/orm.ts';
import type { RequestState } from '../http/request-id.ts';
import { AtriumError, UnauthenticatedError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import type { WorkspaceLookup } from '../modules/workspaces/service.ts';
import type { GraphQLContext } from './context.ts';

export interface YogaOptions {
  schema: GraphQLSchema;
  endpoint: string;
  graph: 'admin' | 'public';
  orm: MikroORM;
  authenticator: Authenticator;
  workspaces: WorkspaceLookup;
  logger: Logger;
  graphiql: boolean;
}

type KoaContext = ParameterizedContext<RequestState>;

/** graphql-yoga for one sub-graph; the context carries the verified caller and a scoped EM. */
export function createGraphQLHandler(
  options: YogaOptions,
): YogaServerInstance<{ koa: KoaContext }, GraphQLContext> {
  return createYoga<{ koa: KoaContext }, GraphQLContext>({
    schema: options.schema,
    graphqlEndpoint: options.endpoint,
    graphiql: options.graphiql,
    landingPage: false,
    batching: false,
    logging: {
      debug: (...args) => options.logger.debug(args),
      info: (...args) => options.logger.info(args),
      warn: (...args) => options.logger.warn(args),
      error: (...args) => options.logger.error(args),
    },
    maskedErrors: {
      // Expected failures keep their message; anything else is logged and masked.
      maskError: (error, message) => {
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (original instanceof AtriumError) {
          return new GraphQLError(original.message, { extensions: { code: original.code } });
        }
        if (error instanceof GraphQLError && !error.originalError) return error;
        if (original instanceof GraphQLError) return original;
        options.logger.error({ err: original }, 'unexpected error in a resolver');
        return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      },
    },
    context: async ({ koa }) => createContext(koa, options),
  });
}

async function createContext(koa: KoaContext, options: YogaOptions): Promise<GraphQLContext> {
  const em = options.orm.em.fork();
  const logger = koa.state.logger;
  try {
    const principal = await options.authenticator.authenticate({
      authorization: koa.get('authorization') || undefined,
      'x-api-key': koa.get('x-api-key') || undefined,
    });
    if (!principal) {
      // Anonymous callers match no workspace: a filter on an impossible id, never "all".
      em.setFilterParams(WORKSPACE_FILTER, { id: '00000000-0000-0000-0000-000000000000' });
      return {
        requestId: koa.state.requestId,
        graph: options.graph,
        principal: null,
        workspace: null,
        em,
        logger,
      };
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
    return {
      requestId: koa.state.requestId,
      graph: options.graph,
      principal,
      workspace,
      em,
      logger: logger.child({ workspace: workspace.slug, subject: principal.subject }),
    };
  } catch (error) {
    if (error instanceof UnauthenticatedError) {
      throw new GraphQLError(error.message, {
        extensions: { code: error.code, http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
      });
    }
    throw error;
  }
}
