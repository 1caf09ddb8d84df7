import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError } from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { findPersistedDocument } from '../modules/persisted-operations/service.ts';
import { type CallerOptions, callerOf, type ServerContext } from './caller.ts';

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/**
 * The Public graph runs a registered document when the request names its hash: Apollo APQ's
 * `extensions.persistedQuery.sha256Hash` (version 1) or `documentId` (`sha256:` prefix optional). The hash is looked up in
 * the workspace of the request's credential only; an anonymous request has none, so it finds none.
 * A workspace with `persistedOperationsOnly` refuses any document sent as `query`.
 */
export function persistedOperations(
  options: CallerOptions,
): (Plugin<ServerContext> | Plugin<ServerContext, ServerContext>)[] {
  const requirePersisted: Plugin<ServerContext, ServerContext> = {
    // The library's own switch sees only the request, not the caller's workspace: decided here.
    async onParams({ params, context }) {
      if (!params.query) return;
      const { workspace } = await callerOf(context.koa, options);
      if (!workspace?.persistedOperationsOnly) return;
      throw new GraphQLError(
        `workspace "${workspace.slug}" runs registered operations only: send the operation's hash as extensions.persistedQuery.sha256Hash or documentId, without a query`,
        { extensions: { code: 'PERSISTED_OPERATION_REQUIRED', http: { status: 400 } } },
      );
    },
  };
  return [
    requirePersisted,
    usePersistedOperations<ServerContext>({
      allowArbitraryOperations: true,
      extractPersistedOperationId: (params) => persistedOperationIdOf(params),
      getPersistedOperation: async (hash, _request, context) => {
        if (!SHA256_HEX.test(hash)) return null;
        const { workspace, em } = await callerOf(context.koa, options);
        return workspace ? findPersistedDocument(em, workspace.id, hash) : null;
      },
      customErrors: {
        notFound: {
          message:
            "no operation with this hash is registered in the credential's workspace (anonymous requests have none)",
          extensions: { code: 'PERSISTED_OPERATION_NOT_FOUND', http: { status: 400 } },
        },
        keyNotFound: {
          message:
            "send a document as query, or a registered operation's hash as extensions.persistedQuery.sha256Hash or documentId",
          extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
        },
      },
    }),
  ];
}

function persistedOperationIdOf(params: GraphQLParams & { documentId?: unknown }): string | null {
  // The GraphQL-over-HTTP persisted documents proposal prefixes the algorithm: `sha256:<hex>`.
  if (typeof params.documentId === 'string') return params.documentId.replace(/^sha256:/, '');
  const apq = params.extensions?.persistedQuery as { version?: unknown; sha256Hash?: unknown } | undefined;
  return apq?.version === 1 && typeof apq.sha256Hash === 'string' ? apq.sha256Hash : null;
}
