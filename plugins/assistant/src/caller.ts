import { type GraphQLContext, UnauthenticatedError, workspaceIdOf } from '@atrium/core';

/** Who asks the assistant over GraphQL: a customer (for their own profile) or staff (agents). */
export function callerOf(ctx: GraphQLContext): {
  workspaceId: string;
  profileId: string | null;
  audience: 'customer' | 'agent';
} {
  const { principal } = ctx;
  if (!principal) throw new UnauthenticatedError('sign in or open a customer session');
  if (principal.kind === 'customer') {
    if (!principal.profileId) throw new UnauthenticatedError('a customer session is needed');
    return { workspaceId: workspaceIdOf(ctx), profileId: principal.profileId, audience: 'customer' };
  }
  return { workspaceId: workspaceIdOf(ctx), profileId: null, audience: 'agent' };
}
