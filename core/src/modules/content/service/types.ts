import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import {
  ContentType,
  type ContentTypeEntity,
  type FieldDefinition,
  type SchemaOrgType,
} from '../entities.ts';
import { checkFieldDefinitions } from './fields.ts';

const TYPE_KEY = /^[a-z][a-z0-9_-]{0,99}$/;

export interface ContentTypeInput {
  key: string;
  name: string;
  description?: string | null;
  isBlock?: boolean | null;
  fields: FieldDefinition[];
  schemaOrgType?: SchemaOrgType | null;
}

export async function listContentTypes(
  em: EntityManager,
  filter: { isBlock?: boolean | null } = {},
): Promise<ContentTypeEntity[]> {
  const where = typeof filter.isBlock === 'boolean' ? { isBlock: filter.isBlock } : {};
  return em.find(ContentType, where, { orderBy: { key: 'asc' } });
}

function checkName(name: string | null | undefined): string {
  const trimmed = name?.trim() ?? '';
  if (!trimmed || trimmed.length > 200) throw new ValidationError('name must be 1 to 200 characters', 'name');
  return trimmed;
}

/** The keys field definitions may point at; `self` lets a type reference or nest itself. */
async function knownKeys(em: EntityManager, self: { key: string; isBlock: boolean }) {
  const types = await listContentTypes(em);
  const entryTypes = new Set(types.filter((t) => !t.isBlock).map((t) => t.key));
  const blockTypes = new Set(types.filter((t) => t.isBlock).map((t) => t.key));
  (self.isBlock ? blockTypes : entryTypes).add(self.key);
  return { entryTypes, blockTypes };
}

export async function createContentType(
  em: EntityManager,
  workspaceId: string,
  input: ContentTypeInput,
): Promise<ContentTypeEntity> {
  if (!TYPE_KEY.test(input.key))
    throw new ValidationError('key: lower-case letters, digits, _ and - (up to 100)', 'key');
  const name = checkName(input.name);
  const isBlock = input.isBlock ?? false;
  return em.transactional(async (tem) => {
    if (await tem.findOne(ContentType, { key: input.key }))
      throw new ValidationError(`a content type with the key "${input.key}" exists`, 'key');
    const fields = checkFieldDefinitions(input.fields, await knownKeys(tem, { key: input.key, isBlock }));
    const type = tem.create(ContentType, {
      workspace: workspaceId,
      key: input.key,
      name,
      description: input.description?.trim() || null,
      isBlock,
      fields,
      schemaOrgType: input.schemaOrgType ?? 'WebPage',
    });
    await tem.flush();
    return type;
  });
}

/**
 * Changes a type's name, description, schema.org type or fields. Entries written earlier are
 * not rewritten: they are validated against the new fields at their next write.
 */
export async function updateContentType(
  em: EntityManager,
  input: {
    key: string;
    name?: string | null;
    description?: string | null;
    schemaOrgType?: SchemaOrgType | null;
    fields?: FieldDefinition[] | null;
  },
): Promise<ContentTypeEntity> {
  return em.transactional(async (tem) => {
    const type = await tem.findOne(ContentType, { key: input.key });
    if (!type) throw new NotFoundError(`Content type "${input.key}"`);
    if (input.name !== undefined && input.name !== null) type.name = checkName(input.name);
    if (input.description !== undefined) type.description = input.description?.trim() || null;
    if (input.schemaOrgType) type.schemaOrgType = input.schemaOrgType;
    if (input.fields) type.fields = checkFieldDefinitions(input.fields, await knownKeys(tem, type));
    await tem.flush();
    return type;
  });
}

/** An entry type (not a block type) by key, or a typed error naming the input. */
export async function entryTypeByKey(
  em: EntityManager,
  key: string,
  field = 'type',
): Promise<ContentTypeEntity> {
  const type = await em.findOne(ContentType, { key });
  if (!type) throw new ValidationError(`${field}: no content type "${key}"`, field);
  if (type.isBlock)
    throw new ValidationError(`${field}: "${key}" is a block type, used only inside blocks fields`, field);
  return type;
}
