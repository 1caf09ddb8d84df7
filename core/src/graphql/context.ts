import type { EntityManager } from '@mikro-orm/postgresql';
import type { GraphQLSchema } from 'graphql';
import type { Principal } from '../auth/principal.ts';
import type { Logger } from '../kernel/logger.ts';
import type { WorkspaceEntity } from '../modules/workspaces/entities.ts';

/** What every resolver receives: who is asking, in which workspace, and a request-scoped EM. */
export interface GraphQLContext {
  requestId: string;
  /** Which sub-graph serves the request: the Public graph never shows internal content. */
  graph: 'admin' | 'public';
  principal: Principal | null;
  /** The caller's workspace; null only for anonymous requests. */
  workspace: WorkspaceEntity | null;
  /** A fork for this request, with the workspace filter set to the caller's workspace. */
  em: EntityManager;
  logger: Logger;
  /** The Public graph: persisted operations are validated against it when they are registered. */
  publicSchema: GraphQLSchema;
}
