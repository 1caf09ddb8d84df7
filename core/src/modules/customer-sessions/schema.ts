import type { AtriumBuilder } from '../../graphql/builder.ts';
import { UnauthenticatedError } from '../../kernel/errors.ts';
import { endCustomerSession } from './service.ts';

/** Public graph: a customer ends their own session (logout); staff never hold the `customer` scope. */
export function customerSessionsSchema(builder: AtriumBuilder): void {
  const Ended = builder.objectRef<{ endedAt: Date }>('EndCustomerSessionPayload').implement({
    subGraphs: ['public'],
    fields: (t) => ({ endedAt: t.expose('endedAt', { type: 'DateTime' }) }),
  });

  builder.mutationField('endCustomerSession', (t) =>
    t.field({
      type: Ended,
      subGraphs: ['public'],
      description: "Logout: the caller's customer session token is refused from now on",
      authScopes: { customer: true },
      resolve: async (_root, _args, ctx) => {
        const sessionId = ctx.principal?.sessionId;
        if (!sessionId) throw new UnauthenticatedError('no customer session was presented');
        const session = await endCustomerSession(ctx.em, sessionId);
        return { endedAt: session.revokedAt ?? new Date() };
      },
    }),
  );
}
