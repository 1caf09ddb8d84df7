import type { AtriumBuilder } from '../../../graphql/builder.ts';
import { enumValues, workspaceIdOf } from '../../../graphql/helpers.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import {
  ContentLocale,
  type ContentLocaleEntity,
  ContentType,
  type ContentTypeEntity,
  type FieldDefinition,
  fieldKinds,
  schemaOrgTypes,
} from '../entities.ts';
import { fallbackChain, listLocales, setLocale } from '../service/locales.ts';
import { createContentType, listContentTypes, updateContentType } from '../service/types.ts';

/** Content types and block types as data, and the workspace's locales. */
export function contentTypesSchema(builder: AtriumBuilder) {
  const FieldKindEnum = builder.enumType('FieldKind', { values: enumValues(fieldKinds) });
  const SchemaOrgTypeEnum = builder.enumType('SchemaOrgType', {
    values: Object.fromEntries(schemaOrgTypes.map((t) => [t, { value: t }])),
  });

  const FieldDefinitionRef = builder.objectRef<FieldDefinition>('FieldDefinition').implement({
    description:
      'One field of a content or block type: what an editor form draws and every write must follow',
    fields: (t) => ({
      key: t.exposeString('key'),
      kind: t.field({ type: FieldKindEnum, resolve: (f) => f.kind }),
      label: t.string({ nullable: true, resolve: (f) => f.label ?? null }),
      required: t.boolean({ resolve: (f) => f.required ?? false }),
      localized: t.boolean({ description: 'One value per locale', resolve: (f) => f.localized ?? false }),
      referenceTypes: t.stringList({ resolve: (f) => f.referenceTypes ?? [] }),
      multiple: t.boolean({
        description: 'A reference field holding a list',
        resolve: (f) => f.multiple ?? false,
      }),
      blockTypes: t.stringList({ resolve: (f) => f.blockTypes ?? [] }),
      maxLength: t.int({ nullable: true, resolve: (f) => f.maxLength ?? null }),
      min: t.float({ nullable: true, resolve: (f) => f.min ?? null }),
      max: t.float({ nullable: true, resolve: (f) => f.max ?? null }),
    }),
  });

  const FieldDefinitionInput = builder.inputType('FieldDefinitionInput', {
    fields: (t) => ({
      key: t.string({ required: true }),
      kind: t.field({ type: FieldKindEnum, required: true }),
      label: t.string(),
      required: t.boolean(),
      localized: t.boolean(),
      referenceTypes: t.stringList({ description: 'reference: the content types it may point at' }),
      multiple: t.boolean({ description: 'reference: a list of entry keys' }),
      blockTypes: t.stringList({ description: 'blocks: the block types allowed' }),
      maxLength: t.int({ description: 'text' }),
      min: t.float({ description: 'number' }),
      max: t.float({ description: 'number' }),
    }),
  });
  const toDefinitions = (fields: (typeof FieldDefinitionInput.$inferInput)[]): FieldDefinition[] =>
    fields.map((f) => ({
      key: f.key,
      kind: f.kind,
      label: f.label ?? undefined,
      required: f.required ?? undefined,
      localized: f.localized ?? undefined,
      referenceTypes: f.referenceTypes ?? undefined,
      multiple: f.multiple ?? undefined,
      blockTypes: f.blockTypes ?? undefined,
      maxLength: f.maxLength ?? undefined,
      min: f.min ?? undefined,
      max: f.max ?? undefined,
    }));

  const ContentTypeRef = builder.objectRef<ContentTypeEntity>('ContentType');
  builder.node(ContentTypeRef, {
    description: 'A content type (or block type) as data',
    authScopes: { viewer: true },
    id: { resolve: (t) => t.id },
    loadOne: (id, ctx) => ctx.em.findOne(ContentType, { id }),
    fields: (t) => ({
      key: t.exposeString('key'),
      name: t.exposeString('name'),
      description: t.exposeString('description', { nullable: true }),
      isBlock: t.exposeBoolean('isBlock', { description: 'Used only inside blocks fields' }),
      schemaOrgType: t.field({ type: SchemaOrgTypeEnum, resolve: (c) => c.schemaOrgType }),
      fields: t.field({ type: [FieldDefinitionRef], resolve: (c) => c.fields }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    }),
  });

  builder.queryField('contentTypes', (t) =>
    t.field({
      type: [ContentTypeRef],
      description: 'Content types by key; block types too unless `isBlock` says which',
      authScopes: { viewer: true },
      args: { isBlock: t.arg.boolean() },
      resolve: (_root, args, ctx) => listContentTypes(ctx.em, { isBlock: args.isBlock }),
    }),
  );
  builder.queryField('contentType', (t) =>
    t.field({
      type: ContentTypeRef,
      nullable: true,
      authScopes: { viewer: true },
      args: { key: t.arg.string({ required: true }) },
      resolve: (_root, { key }, ctx) => ctx.em.findOne(ContentType, { key }),
    }),
  );

  builder.relayMutationField(
    'createContentType',
    {
      inputFields: (t) => ({
        key: t.string({ required: true, description: 'Stable, lower-case: what entries and APIs refer to' }),
        name: t.string({ required: true }),
        description: t.string(),
        isBlock: t.boolean({ description: 'A block type, used only inside blocks fields' }),
        schemaOrgType: t.field({ type: SchemaOrgTypeEnum }),
        fields: t.field({ type: [FieldDefinitionInput], required: true }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        contentType: await createContentType(ctx.em, workspaceIdOf(ctx), {
          ...input,
          fields: toDefinitions(input.fields),
        }),
      }),
    },
    {
      outputFields: (t) => ({
        contentType: t.field({ type: ContentTypeRef, resolve: (p) => p.contentType }),
      }),
    },
  );

  builder.relayMutationField(
    'updateContentType',
    {
      inputFields: (t) => ({
        key: t.string({ required: true }),
        name: t.string(),
        description: t.string(),
        schemaOrgType: t.field({ type: SchemaOrgTypeEnum }),
        fields: t.field({ type: [FieldDefinitionInput], description: 'Replaces every field definition' }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError, NotFoundError] },
      resolve: async (_root, { input }, ctx) => ({
        contentType: await updateContentType(ctx.em, {
          ...input,
          fields: input.fields ? toDefinitions(input.fields) : undefined,
        }),
      }),
    },
    {
      outputFields: (t) => ({
        contentType: t.field({ type: ContentTypeRef, resolve: (p) => p.contentType }),
      }),
    },
  );

  const LocaleRef = builder.objectRef<ContentLocaleEntity>('ContentLocale').implement({
    description: 'A locale the workspace writes content in, and where reads fall back to',
    fields: (t) => ({
      code: t.exposeString('code'),
      fallback: t.exposeString('fallback', { nullable: true }),
      isDefault: t.exposeBoolean('isDefault'),
      chain: t.stringList({
        description: 'The locales a read in this locale tries, in order',
        resolve: async (l, _args, ctx) => fallbackChain(await listLocales(ctx.em), l.code),
      }),
    }),
  });

  builder.queryField('locales', (t) =>
    t.field({
      type: [LocaleRef],
      authScopes: { viewer: true },
      resolve: (_root, _args, ctx) => ctx.em.find(ContentLocale, {}, { orderBy: { code: 'asc' } }),
    }),
  );

  builder.relayMutationField(
    'setLocale',
    {
      inputFields: (t) => ({
        code: t.string({ required: true, description: 'A language tag: en, de, de-CH' }),
        fallback: t.string({ description: 'The locale to read when this one has no value' }),
        isDefault: t.boolean({ description: 'The locale reads use when none is asked for' }),
      }),
    },
    {
      authScopes: { editor: true },
      errors: { types: [ValidationError] },
      resolve: async (_root, { input }, ctx) => ({
        locale: await setLocale(ctx.em, workspaceIdOf(ctx), input),
      }),
    },
    { outputFields: (t) => ({ locale: t.field({ type: LocaleRef, resolve: (p) => p.locale }) }) },
  );

  return { ContentTypeRef };
}
