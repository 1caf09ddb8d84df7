import type { MikroORM } from '@mikro-orm/postgresql';
import { GraphQLError, type GraphQLSchema, NoSchemaIntrospectionCustomRule, parse } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Authenticator } from '../auth/authenticator.ts';
import { AtriumError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import type { WorkspaceLookup } from '../modules/workspaces/service.ts';
import { refuseForeignOrigins, workspaceCors } from './allowed-origins.ts';
import { callerOf, type KoaContext, type ServerContext } from './caller.ts';
import type { GraphQLContext } from './context.ts';
import { persistedOperations } from './persisted-operations.ts';

export interface YogaOptions {
  schema: GraphQLSchema;
  /** The Public graph, against which registered persisted operations are validated. */
  publicSchema: GraphQLSchema;
  endpoint: string;
  graph: 'admin' | 'public';
  orm: MikroORM;
  authenticator: Authenticator;
  workspaces: WorkspaceLookup;
  logger: Logger;
  graphiql: boolean;
  /**
   * Off in production: introspection queries are refused and error messages carry no
   * "Did you mean …?" suggestions, so the schema is not handed to whoever asks.
   */
  introspection: boolean;
  /** Most lexical tokens a document may have; parsing stops beyond (GRAPHQL_MAX_TOKENS). */
  maxTokens: number;
}

/** graphql-yoga for one sub-graph; the context carries the verified caller and a scoped EM. */
export function createGraphQLHandler(
  options: YogaOptions,
): YogaServerInstance<ServerContext, GraphQLContext> {
  return createYoga<ServerContext, GraphQLContext>({
    schema: options.schema,
    graphqlEndpoint: options.endpoint,
    graphiql: options.graphiql,
    landingPage: false,
    batching: false,
    cors: workspaceCors(options),
    // Workspace policies run on the request's parameters, before any document is parsed or run.
    plugins: [
      refuseForeignOrigins(options),
      ...(options.graph === 'public' ? persistedOperations(options) : []),
      documentLimits(options),
    ],
    extraParamNames: options.graph === 'public' ? ['documentId'] : [],
    logging: {
      debug: (...args) => options.logger.debug(args),
      info: (...args) => options.logger.info(args),
      warn: (...args) => options.logger.warn(args),
      error: (...args) => options.logger.error(args),
    },
    maskedErrors: {
      // Expected failures keep their message; anything else is logged and masked.
      // The field's path and location are kept, so a client sees which field failed.
      maskError: (error, message) => {
        const located = error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {};
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (original instanceof AtriumError) {
          return new GraphQLError(original.message, { ...located, extensions: { code: original.code } });
        }
        if (error instanceof GraphQLError && !error.originalError) {
          return options.introspection ? error : withoutSuggestions(error);
        }
        if (original instanceof GraphQLError) {
          return new GraphQLError(original.message, { ...located, extensions: original.extensions });
        }
        options.logger.error({ err: original }, 'unexpected error in a resolver');
        return new GraphQLError(message, { ...located, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      },
    },
    context: async ({ koa }) => createContext(koa, options),
  });
}

async function createContext(koa: KoaContext, options: YogaOptions): Promise<GraphQLContext> {
  const { principal, workspace, em } = await callerOf(koa, options);
  const logger = koa.state.logger;
  return {
    requestId: koa.state.requestId,
    graph: options.graph,
    principal,
    workspace,
    em,
    logger:
      workspace && principal
        ? logger.child({ workspace: workspace.slug, subject: principal.subject })
        : logger,
    publicSchema: options.publicSchema,
  };
}

/** Token limit on every document; without introspection, no `__schema`/`__type` and no suggestions. */
function documentLimits(options: YogaOptions): Plugin {
  return {
    onParse({ setParseFn }) {
      setParseFn((source, parseOptions) => parse(source, { ...parseOptions, maxTokens: options.maxTokens }));
    },
    onExecute() {
      if (options.introspection) return;
      // Variables are coerced when execution starts: "Did you mean the enum value …?" comes from there.
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors?.length) return;
          setResult({ ...result, errors: result.errors.map(withoutSuggestions) });
        },
      };
    },
    onValidate({ addValidationRule }) {
      if (options.introspection) return;
      addValidationRule(NoSchemaIntrospectionCustomRule);
      return ({ result, setResult }) =>
        setResult(
          result.map((e: Error) =>
            e instanceof GraphQLError ? withoutSuggestions(e) : new GraphQLError(e.message),
          ),
        );
    },
  };
}

/** graphql-js names near-miss fields, arguments and enum values; in production that maps the schema. */
function withoutSuggestions(error: GraphQLError): GraphQLError {
  const message = error.message.replace(/\s*Did you mean [^?]*\?/g, '');
  if (message === error.message) return error;
  return new GraphQLError(message, {
    nodes: error.nodes,
    path: error.path,
    extensions: error.extensions,
  });
}
