import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../graphql/builder.ts';
import { workspaceIdOf } from '../../graphql/helpers.ts';
import { type AuditRow, type AuditTarget, listAuditEntries } from './service.ts';

/** Admins read the audit log of their workspace; nobody can change it through the API. */
export function auditSchema(builder: AtriumBuilder): void {
  const TargetRef = builder.objectRef<AuditTarget>('AuditTarget').implement({
    description: 'A record an action touched',
    fields: (t) => ({
      type: t.exposeString('type', { description: 'e.g. Profile, ApiKey' }),
      id: t.exposeString('id', { description: 'The raw UUID (not a global ID)' }),
    }),
  });

  const EntryRef = builder.objectRef<AuditRow>('AuditEntry').implement({
    description: 'Who did what to which record',
    fields: (t) => ({
      id: t.exposeString('id'),
      occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
      actorKind: t.exposeString('actorKind', {
        description: 'user, service, api-key, dev, customer, or system (jobs, CLI)',
      }),
      actorSubject: t.exposeString('actorSubject', { description: 'The credential subject' }),
      action: t.exposeString('action', {
        description: 'mutation.<field>, or <area>.<verb> (e.g. ai.answer)',
      }),
      targets: t.field({ type: [TargetRef], resolve: (e) => e.targets }),
      details: t.field({
        type: 'JSON',
        description: 'The arguments with free text redacted, or what an explicit record adds',
        resolve: (e) => e.details,
      }),
      requestId: t.exposeString('requestId', { nullable: true }),
    }),
  });

  const Filter = builder.inputType('AuditEntryFilter', {
    fields: (t) => ({
      actorSubject: t.string({ required: false }),
      action: t.string({ required: false, description: 'Exact, or a prefix ending in "." (mutation.)' }),
      targetId: t.string({ required: false, description: 'Raw UUID of a record' }),
      since: t.field({ type: 'DateTime', required: false }),
      until: t.field({ type: 'DateTime', required: false }),
    }),
  });

  builder.queryField('auditEntries', (t) =>
    t.connection({
      type: EntryRef,
      description: 'The audit log, newest first (kept AUDIT_RETENTION_DAYS)',
      authScopes: { admin: true },
      args: { filter: t.arg({ type: Filter, required: false }) },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
          listAuditEntries(ctx.em, workspaceIdOf(ctx), args.filter ?? {}, page),
        ),
    }),
  );
}
