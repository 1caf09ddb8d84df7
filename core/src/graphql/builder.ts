import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import SubGraphPlugin from '@pothos/plugin-sub-graph';
import { GraphQLError } from 'graphql';
import type { CallerScope } from '../auth/scopes.ts';
import type { GraphQLContext } from './context.ts';

export interface AtriumSchemaTypes {
  Context: GraphQLContext;
  AuthScopes: Record<CallerScope, boolean> & { authenticated: boolean };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    ID: { Input: string; Output: string };
  };
  /** `admin` serves the back office and integrations, `public` the shop and app frontends. */
  SubGraphs: 'admin' | 'public';
  DefaultFieldNullability: false;
}

export interface GraphQLLimits {
  maxDepth: number;
  maxComplexity: number;
  maxBreadth: number;
}

export function createBuilder(limits: GraphQLLimits) {
  return new SchemaBuilder<AtriumSchemaTypes>({
    // scope-auth first, so that no other plugin resolves anything before access is checked.
    plugins: [ScopeAuthPlugin, ErrorsPlugin, RelayPlugin, DataloaderPlugin, ComplexityPlugin, SubGraphPlugin],
    defaultFieldNullability: false,
    scopeAuth: {
      // Refuse a subscription when it is opened, not per event: no stream for a caller without the scope.
      authorizeOnSubscribe: true,
      authScopes: (ctx) => {
        const has = (scope: CallerScope) => ctx.principal?.scopes.includes(scope) ?? false;
        return {
          authenticated: ctx.principal !== null,
          admin: has('admin'),
          editor: has('editor'),
          reviewer: has('reviewer'),
          agent: has('agent'),
          analyst: has('analyst'),
          viewer: has('viewer'),
          reader: has('reader'),
          customer: has('customer'),
        };
      },
      unauthorizedError: (_parent, ctx, info) =>
        new GraphQLError(
          ctx.principal
            ? `Not allowed: ${info.parentType.name}.${info.fieldName} needs a scope this caller does not have`
            : `Not authenticated: ${info.parentType.name}.${info.fieldName} needs a bearer token or API key`,
          { extensions: { code: ctx.principal ? 'FORBIDDEN' : 'UNAUTHENTICATED' } },
        ),
    },
    errors: {
      defaultTypes: [],
      // `createApiKey: CreateApiKeyResult = CreateApiKeyPayload | ValidationError`, no wrapper type.
      directResult: true,
      defaultUnionOptions: {
        name: ({ fieldName }) => `${fieldName[0]?.toUpperCase()}${fieldName.slice(1)}Result`,
      },
    },
    relay: {
      clientMutationId: 'omit',
      cursorType: 'String',
      nodeQueryOptions: { subGraphs: ['admin'] },
      nodesQueryOptions: { subGraphs: ['admin'] },
      nodeTypeOptions: { subGraphs: ['admin', 'public'] },
      pageInfoTypeOptions: { subGraphs: ['admin', 'public'] },
    },
    complexity: {
      defaultComplexity: 1,
      defaultListMultiplier: 10,
      limit: { complexity: limits.maxComplexity, depth: limits.maxDepth, breadth: limits.maxBreadth },
      complexityError: (kind, result) => {
        const measure = kind.toLowerCase() as 'depth' | 'breadth' | 'complexity';
        const limit = result[`max${kind}` as 'maxDepth' | 'maxBreadth' | 'maxComplexity'];
        return new GraphQLError(
          `Query rejected: its ${measure} is ${result[measure]}, the limit is ${limit}`,
          {
            extensions: { code: 'QUERY_TOO_COMPLEX' },
          },
        );
      },
    },
    subGraphs: { defaultForTypes: ['admin'], fieldsInheritFromTypes: true },
  });
}

export type AtriumBuilder = ReturnType<typeof createBuilder>;
