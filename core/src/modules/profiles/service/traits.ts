import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationError } from '../../../kernel/errors.ts';
import { TraitDefinition, type TraitDefinitionEntity, type TraitKind, traitKinds } from '../entities.ts';

const TRAIT_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,199}$/;

/** The workspace's declared traits by key; traits without a definition are free-form. */
export async function traitSchemaOf(em: EntityManager, workspaceId: string): Promise<Map<string, TraitKind>> {
  const rows = await em.find(TraitDefinition, { workspace: workspaceId });
  return new Map(rows.map((r) => [r.key, r.kind]));
}

/** Checks traits against the schema; `prefix` names where they came from, e.g. `batch[3].traits`. */
export function validateTraits(
  traits: unknown,
  schema: Map<string, TraitKind>,
  prefix = 'traits',
): Record<string, unknown> {
  if (typeof traits !== 'object' || traits === null || Array.isArray(traits)) {
    throw new ValidationError(`${prefix} must be an object`, prefix);
  }
  for (const [key, value] of Object.entries(traits)) {
    const field = `${prefix}.${key}`;
    if (!TRAIT_KEY.test(key))
      throw new ValidationError(`${field}: trait names are letters, digits, _ . - (up to 200)`, field);
    const kind = schema.get(key);
    if (kind && value !== null && !fitsKind(value, kind)) {
      throw new ValidationError(
        `${field} must be ${kind === 'array' || kind === 'object' ? 'an' : 'a'} ${kind}`,
        field,
      );
    }
  }
  return traits as Record<string, unknown>;
}

function fitsKind(value: unknown, kind: TraitKind): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'datetime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

export async function defineTrait(
  em: EntityManager,
  workspaceId: string,
  input: { key: string; kind: TraitKind; description?: string | null },
): Promise<TraitDefinitionEntity> {
  if (!TRAIT_KEY.test(input.key)) throw new ValidationError('key: letters, digits, _ . - (up to 200)', 'key');
  if (!traitKinds.includes(input.kind))
    throw new ValidationError(`kind must be one of ${traitKinds.join(', ')}`, 'kind');
  const existing = await em.findOne(TraitDefinition, { workspace: workspaceId, key: input.key });
  const definition =
    existing ?? em.create(TraitDefinition, { workspace: workspaceId, key: input.key, kind: input.kind });
  definition.kind = input.kind;
  definition.description = input.description ?? null;
  await em.flush();
  return definition;
}
