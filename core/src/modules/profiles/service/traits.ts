import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationError } from '../../../kernel/errors.ts';
import { TraitDefinition, type TraitDefinitionEntity, type TraitKind, traitKinds } from '../entities.ts';

/**
 * Clients send trait names as people write them ("First Name", "plan.tier"): any printable
 * name up to 200 characters, except a leading `$` (reserved for operators in JSON queries).
 */
const TRAIT_NAME = /^[^\p{Cc}$][^\p{Cc}]{0,199}$/u;

export function isTraitName(key: string): boolean {
  return TRAIT_NAME.test(key);
}

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
    if (!isTraitName(key)) {
      throw new ValidationError(
        `${field}: a trait name is 1 to 200 printable characters, not starting with $`,
        field,
      );
    }
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
  if (!isTraitName(input.key))
    throw new ValidationError('key: 1 to 200 printable characters, not starting with $', 'key');
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
