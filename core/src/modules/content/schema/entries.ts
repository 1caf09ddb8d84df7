import { resolveOffsetConnection } from '@pothos/plugin-relay';
import type { AtriumBuilder } from '../../../graphql/builder.ts';
import type { GraphQLContext } from '../../../graphql/context.ts';
import { enumValues, workspaceIdOf } from '../../../graphql/helpers.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import type { AnySegmentOperator } from '../../profiles/segments/operators.ts';
import {
  ContentEntry,
  type ContentEntryEntity,
  ContentType,
  type ContentTypeEntity,
  type ContentVersionEntity,
  entryStatuses,
  entryVisibilities,
  type WorkflowTransitionEntity,
} from '../entities.ts';
import {
  type Actor,
  createEntry,
  listEntries,
  listTransitions,
  listVersions,
  referencedBy,
  updateEntry,
} from '../service/entries.ts';
import {
  type FieldSource,
  type LocalizedEntry,
  localizeEntry,
  publishedEntries,
  publishedEntry,
} from '../service/read.ts';
import {
  approveEntry,
  archiveEntry,
  publishEntry,
  rejectEntry,
  scheduleEntry,
  submitEntry,
  unpublishEntry,
} from '../service/workflow.ts';

const both = ['admin', 'public'] as const;

function actorOf(ctx: GraphQLContext): Actor {
  if (!ctx.principal) throw new Error('an authorized field always has a principal');
  return { subject: ctx.principal.subject, scopes: ctx.principal.scopes };
}

/** Entries, their versions and review workflow (Admin graph), and published content (Public graph). */
export function contentEntriesSchema(
  builder: AtriumBuilder,
  { ContentTypeRef }: { ContentTypeRef: ReturnType<typeof builder.objectRef<ContentTypeEntity>> },
  operators: readonly AnySegmentOperator[],
) {
  const StatusEnum = builder.enumType('EntryStatus', { values: enumValues(entryStatuses) });
  const VisibilityEnum = builder.enumType('EntryVisibility', { values: enumValues(entryVisibilities) });

  const FieldSourceRef = builder.objectRef<FieldSource>('FieldSource').implement({
    subGraphs: [...both],
    description:
      'Which locale served a field: the asked one, a fallback, or null when the field is not localized',
    fields: (t) => ({
      field: t.exposeString('field'),
      locale: t.exposeString('locale', { nullable: true }),
    }),
  });

  const LocalizedEntryRef = builder.objectRef<LocalizedEntry>('LocalizedEntry').implement({
    subGraphs: [...both],
    description: "An entry's values in one locale, each field resolved through the fallback chain",
    fields: (t) => ({
      key: t.string({ resolve: (l) => l.entry.key }),
      type: t.string({ description: 'The content type key', resolve: (l) => l.entry.type.key }),
      schemaOrgType: t.string({ resolve: (l) => l.entry.type.schemaOrgType }),
      tags: t.stringList({ resolve: (l) => l.entry.tags }),
      version: t.exposeInt('version'),
      locale: t.exposeString('locale', { description: 'The locale asked for' }),
      chain: t.stringList({ description: 'The locales tried, in order', resolve: (l) => l.chain }),
      fields: t.field({ type: 'JSON', description: 'Field key → value', resolve: (l) => l.fields }),
      sources: t.field({ type: [FieldSourceRef], resolve: (l) => l.sources }),
      publishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (l) => l.entry.publishedAt ?? null }),
    }),
  });

  const VersionRef = builder.objectRef<ContentVersionEntity>('ContentVersion').implement({
    description: "One version of an entry's values",
    fields: (t) => ({
      version: t.exposeInt('version'),
      fields: t.field({
        type: 'JSON',
        description: "fields[locale][key]; '*' holds fields that are not localized",
        resolve: (v) => v.fields,
      }),
      references: t.stringList({
        description: 'Ids of the entries this version references',
        resolve: (v) => v.references,
      }),
      createdBy: t.exposeString('createdBy'),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  const TransitionRef = builder.objectRef<WorkflowTransitionEntity>('WorkflowTransition').implement({
    description: 'Who moved an entry through the workflow, when, and why',
    fields: (t) => ({
      fromStatus: t.field({ type: StatusEnum, resolve: (w) => w.fromStatus }),
      toStatus: t.field({ type: StatusEnum, resolve: (w) => w.toStatus }),
      version: t.exposeInt('version'),
      actor: t.exposeString('actor'),
      comment: t.exposeString('comment', { nullable: true }),
      at: t.expose('at', { type: 'DateTime' }),
    }),
  });

  const EntryRef = builder.objectRef<ContentEntryEntity>('ContentEntry');
  builder.node(EntryRef, {
    description: 'A piece of content addressed by a stable key, with versions and a review status',
    authScopes: { viewer: true },
    id: { resolve: (e) => e.id },
    loadOne: (id, ctx) => ctx.em.findOne(ContentEntry, { id }, { populate: ['type'] }),
    fields: (t) => ({
      key: t.exposeString('key'),
      type: t.field({
        type: ContentTypeRef,
        resolve: (e, _args, ctx) => ctx.em.findOneOrFail(ContentType, { id: e.type.id }),
      }),
      status: t.field({
        type: StatusEnum,
        description: "The working version's review status; `publishedVersion` says what is live",
        resolve: (e) => e.status,
      }),
      visibility: t.field({ type: VisibilityEnum, resolve: (e) => e.visibility }),
      tags: t.stringList({ resolve: (e) => e.tags }),
      workingVersion: t.exposeInt('workingVersion'),
      publishedVersion: t.exposeInt('publishedVersion', { nullable: true }),
      publishAt: t.expose('publishAt', { type: 'DateTime', nullable: true }),
      unpublishAt: t.expose('unpublishAt', { type: 'DateTime', nullable: true }),
      publishedAt: t.expose('publishedAt', { type: 'DateTime', nullable: true }),
      publishedBy: t.exposeString('publishedBy', { nullable: true }),
      createdBy: t.exposeString('createdBy'),
      updatedBy: t.exposeString('updatedBy'),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
      localized: t.field({
        type: LocalizedEntryRef,
        description:
          'The values in a locale (default locale when none), at a version (the working one when none)',
        args: { locale: t.arg.string(), version: t.arg.int() },
        resolve: (e, args, ctx) => localizeEntry(ctx.em, e, args.locale, args.version ?? e.workingVersion),
      }),
      versions: t.field({
        type: [VersionRef],
        description: 'Newest first',
        resolve: (e, _a, ctx) => listVersions(ctx.em, e),
      }),
      transitions: t.field({
        type: [TransitionRef],
        description: 'Oldest first',
        resolve: (e, _a, ctx) => listTransitions(ctx.em, e),
      }),
      referencedBy: t.stringList({
        description: 'Keys of entries that reference this one',
        resolve: (e, _a, ctx) => referencedBy(ctx.em, workspaceIdOf(ctx), e.id),
      }),
    }),
  });

  const EntryFilter = builder.inputType('EntryFilter', {
    fields: (t) => ({
      type: t.string({ description: 'A content type key' }),
      status: t.field({ type: StatusEnum }),
      locale: t.string({ description: 'Entries whose working version has values in this locale' }),
      tag: t.string(),
    }),
  });

  builder.queryField('entries', (t) =>
    t.connection({
      type: EntryRef,
      description: 'Entries, most recently changed first',
      authScopes: { viewer: true },
      args: { filter: t.arg({ type: EntryFilter }) },
      resolve: (_root, args, ctx) =>
        resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
          listEntries(ctx.em, workspaceIdOf(ctx), args.filter ?? {}, page),
        ),
    }),
  );

  builder.queryField('entry', (t) =>
    t.field({
      type: EntryRef,
      nullable: true,
      authScopes: { viewer: true },
      args: { id: t.arg.globalID({ required: true, for: EntryRef }) },
      resolve: (_root, { id }, ctx) => ctx.em.findOne(ContentEntry, { id: id.id }, { populate: ['type'] }),
    }),
  );

  builder.queryField('publishedEntry', (t) =>
    t.field({
      type: LocalizedEntryRef,
      nullable: true,
      subGraphs: [...both],
      description: 'A published, public entry by key, read in a locale (the default when none)',
      authScopes: { reader: true },
      args: { key: t.arg.string({ required: true }), locale: t.arg.string() },
      resolve: (_root, args, ctx) => publishedEntry(ctx.em, workspaceIdOf(ctx), args.key, args.locale),
    }),
  );

  builder.queryField('publishedEntries', (t) =>
    t.connection(
      {
        type: LocalizedEntryRef,
        subGraphs: [...both],
        description: 'Published, public entries, most recently published first, read in a locale',
        authScopes: { reader: true },
        args: { type: t.arg.string(), locale: t.arg.string(), tag: t.arg.string() },
        resolve: (_root, args, ctx) =>
          resolveOffsetConnection({ args, defaultSize: 20, maxSize: 100 }, (page) =>
            publishedEntries(ctx.em, workspaceIdOf(ctx), args, page),
          ),
      },
      { subGraphs: [...both] },
      { subGraphs: [...both] },
    ),
  );

  const workflowErrors = { types: [ValidationError, NotFoundError, ForbiddenError] };

  builder.relayMutationField(
    'createEntry',
    {
      inputFields: (t) => ({
        type: t.string({ required: true, description: 'The content type key' }),
        key: t.string({ required: true, description: 'Stable, lower-case: what frontends read it by' }),
        fields: t.field({
          type: 'JSON',
          required: true,
          description: "{ [locale]: { field: value }, '*': { … } }",
        }),
        visibility: t.field({ type: VisibilityEnum }),
        tags: t.stringList(),
        variants: t.field({
          type: 'JSON',
          description: '[{ key, audience: { segmentKey } | { condition }, fields }]',
        }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        entry: await createEntry(
          ctx.em,
          workspaceIdOf(ctx),
          actorOf(ctx),
          { ...input, fields: input.fields },
          operators,
        ),
      }),
    },
    { outputFields: (t) => ({ entry: t.field({ type: EntryRef, resolve: (p) => p.entry }) }) },
  );

  builder.relayMutationField(
    'updateEntry',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true, for: EntryRef }),
        fields: t.field({ type: 'JSON', description: 'Given locales replace theirs; null removes a locale' }),
        visibility: t.field({ type: VisibilityEnum }),
        tags: t.stringList(),
        variants: t.field({ type: 'JSON', description: 'Replaces the variants when given' }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        entry: await updateEntry(
          ctx.em,
          workspaceIdOf(ctx),
          actorOf(ctx),
          { ...input, id: input.id.id },
          operators,
        ),
      }),
    },
    { outputFields: (t) => ({ entry: t.field({ type: EntryRef, resolve: (p) => p.entry }) }) },
  );

  const workflowMutation = (
    name: string,
    scope: 'editor' | 'reviewer',
    description: string,
    run: (ctx: GraphQLContext, input: { id: string; comment?: string | null }) => Promise<ContentEntryEntity>,
    commentRequired = false,
  ) =>
    builder.relayMutationField(
      name,
      {
        inputFields: (t) => ({
          id: t.globalID({ required: true, for: EntryRef }),
          comment: t.string({ required: commentRequired }),
        }),
      },
      {
        description,
        authScopes: { [scope]: true },
        errors: workflowErrors,
        resolve: async (_root, { input }, ctx) => ({
          entry: await run(ctx, { id: input.id.id, comment: input.comment }),
        }),
      },
      { outputFields: (t) => ({ entry: t.field({ type: EntryRef, resolve: (p) => p.entry }) }) },
    );

  workflowMutation('submitEntry', 'editor', 'draft → in review', (ctx, i) =>
    submitEntry(ctx.em, actorOf(ctx), i.id, i.comment),
  );
  workflowMutation(
    'approveEntry',
    'reviewer',
    'in review → approved; not by the submitter unless an admin',
    (ctx, i) => approveEntry(ctx.em, actorOf(ctx), i.id, i.comment),
  );
  workflowMutation(
    'rejectEntry',
    'reviewer',
    'in review or approved → draft, with a comment saying why',
    (ctx, i) => rejectEntry(ctx.em, actorOf(ctx), i.id, i.comment ?? ''),
    true,
  );
  workflowMutation('publishEntry', 'editor', 'approved → published', (ctx, i) =>
    publishEntry(ctx.em, actorOf(ctx), i.id),
  );
  workflowMutation('unpublishEntry', 'editor', 'Takes the published version off the Public graph', (ctx, i) =>
    unpublishEntry(ctx.em, actorOf(ctx), i.id),
  );
  workflowMutation(
    'archiveEntry',
    'editor',
    'Retires an entry; refused while others reference it',
    (ctx, i) => archiveEntry(ctx.em, workspaceIdOf(ctx), actorOf(ctx), i.id),
  );

  builder.relayMutationField(
    'scheduleEntry',
    {
      inputFields: (t) => ({
        id: t.globalID({ required: true, for: EntryRef }),
        publishAt: t.field({
          type: 'DateTime',
          description: 'Publish once approved and this time has come; null clears',
        }),
        unpublishAt: t.field({ type: 'DateTime', description: 'Unpublish at this time; null clears' }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: workflowErrors,
      resolve: async (_root, { input }, ctx) => ({
        entry: await scheduleEntry(ctx.em, actorOf(ctx), {
          id: input.id.id,
          publishAt: input.publishAt,
          unpublishAt: input.unpublishAt,
        }),
      }),
    },
    { outputFields: (t) => ({ entry: t.field({ type: EntryRef, resolve: (p) => p.entry }) }) },
  );
}
