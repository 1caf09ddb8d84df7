import { GraphQLError, Kind } from 'graphql';
import {
  type AtriumError,
  ForbiddenError,
  NotFoundError,
  UnauthenticatedError,
  ValidationError,
} from '../kernel/errors.ts';
import type { ProfileEntity } from '../modules/profiles/entities.ts';
import type { WorkspaceEntity } from '../modules/workspaces/entities.ts';
import { Workspace } from '../modules/workspaces/entities.ts';
import type { AtriumBuilder } from './builder.ts';
import type { CoreRefs, ViewerShape } from './refs.ts';

const both = ['admin', 'public'] as const;

/** Scalars, the error interface, root types, Workspace and Viewer: what every module builds on. */
export function addCoreTypes(builder: AtriumBuilder): CoreRefs {
  builder.scalarType('DateTime', {
    subGraphs: [...both],
    description: 'An ISO-8601 timestamp in UTC',
    serialize: (value) =>
      value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString(),
    parseValue: (value) => parseDate(value),
    parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : null),
  });
  builder.scalarType('JSON', {
    subGraphs: [...both],
    description: 'Any JSON value',
    serialize: (value) => value,
    parseValue: (value) => value,
  });

  const ErrorRef = builder.interfaceRef<AtriumError>('Error').implement({
    subGraphs: [...both],
    description: 'An expected failure: read `code` to branch, show `message` to people',
    fields: (t) => ({
      code: t.exposeString('code'),
      message: t.exposeString('message'),
    }),
  });
  builder.objectType(ValidationError, {
    name: 'ValidationError',
    subGraphs: [...both],
    interfaces: [ErrorRef],
    isTypeOf: (value) => value instanceof ValidationError,
    fields: (t) => ({
      field: t.exposeString('field', { nullable: true, description: 'The input that broke a rule' }),
    }),
  });
  for (const [ErrorClass, name] of [
    [NotFoundError, 'NotFoundError'],
    [ForbiddenError, 'ForbiddenError'],
  ] as const) {
    builder.objectType(ErrorClass, {
      name,
      subGraphs: [...both],
      interfaces: [ErrorRef],
      isTypeOf: (value) => value instanceof ErrorClass,
      fields: () => ({}),
    });
  }

  builder.queryType({ subGraphs: [...both], defaultSubGraphsForFields: ['admin'] });
  builder.mutationType({ subGraphs: [...both], defaultSubGraphsForFields: ['admin'] });
  // Subscriptions are served as server-sent events; a graph without any drops the empty root.
  builder.subscriptionType({ subGraphs: [...both], defaultSubGraphsForFields: ['admin'] });

  const WorkspaceRef = builder.objectRef<WorkspaceEntity>('Workspace');
  builder.node(WorkspaceRef, {
    subGraphs: [...both],
    description: 'A tenant or brand; every customer record belongs to one',
    id: { resolve: (w) => w.id },
    // A caller only ever sees its own workspace, whatever id it asks for.
    loadOne: (id, ctx) => (ctx.workspace?.id === id ? ctx.em.findOne(Workspace, { id }) : null),
    fields: (t) => ({
      slug: t.exposeString('slug'),
      name: t.exposeString('name'),
      createdAt: t.expose('createdAt', { type: 'DateTime', subGraphs: ['admin'] }),
    }),
  });

  const ViewerRef = builder.objectRef<ViewerShape>('Viewer').implement({
    subGraphs: [...both],
    description: 'The caller, as their credential says',
    fields: (t) => ({
      subject: t.string({ resolve: (v) => v.principal.subject }),
      kind: t.string({
        description: 'user, service, api-key, dev or customer',
        resolve: (v) => v.principal.kind,
      }),
      scopes: t.stringList({ resolve: (v) => v.principal.scopes }),
      workspace: t.field({ type: WorkspaceRef, resolve: (v) => v.workspace }),
    }),
  });

  builder.queryField('viewer', (t) =>
    t.field({
      type: ViewerRef,
      subGraphs: [...both],
      authScopes: { authenticated: true },
      resolve: (_root, _args, ctx) => {
        if (!ctx.principal || !ctx.workspace) throw new UnauthenticatedError('no credential was presented');
        return { principal: ctx.principal, workspace: ctx.workspace };
      },
    }),
  );

  // Declared here so that every module and plugin can extend it; the profiles module implements it.
  const ProfileRef = builder.objectRef<ProfileEntity>('Profile');

  return { Workspace: WorkspaceRef, Viewer: ViewerRef, Error: ErrorRef, Profile: ProfileRef };
}

function parseDate(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string');
  return date;
}
