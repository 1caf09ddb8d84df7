import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import type { JobQueue } from '../../../kernel/jobs.ts';
import {
  ComputedTraitDefinition,
  type ComputedTraitDefinitionEntity,
  type ComputedTraitKind,
  computedTraitKinds,
} from '../entities.ts';
import { computedTraitKindSpecs } from './computed-trait-kinds.ts';
import { referencesOf, validateArgs, validateCondition } from './conditions.ts';
import { liveSegments } from './evaluate.ts';
import type { AnySegmentOperator } from './operators.ts';

export const RECOMPUTE_COMPUTED_TRAITS = 'computed-traits.recompute';
export interface RecomputeComputedTraitsJob {
  workspaceId: string;
}

const TRAIT_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,199}$/;

function validateDefinition(input: { key: string; kind: ComputedTraitKind; config?: unknown }) {
  if (!TRAIT_KEY.test(input.key))
    throw new ValidationError('key: letters, digits, _ . - (up to 200), starting with a letter or _', 'key');
  const spec = computedTraitKindSpecs[input.kind];
  if (!spec) throw new ValidationError(`kind must be one of ${computedTraitKinds.join(', ')}`, 'kind');
  return validateArgs(spec.args, input.config, 'config');
}

/** Every definition change recomputes the workspace: the job writes each profile's full set. */
function queueRecompute(em: EntityManager, jobs: JobQueue, workspaceId: string) {
  return jobs.send(RECOMPUTE_COMPUTED_TRAITS, { workspaceId } satisfies RecomputeComputedTraitsJob, { em });
}

export function listComputedTraits(em: EntityManager): Promise<ComputedTraitDefinitionEntity[]> {
  return em.find(ComputedTraitDefinition, {}, { orderBy: { key: 'asc' } });
}

/** Defines a computed trait and queues the recompute that fills it for every profile. */
export async function createComputedTrait(
  em: EntityManager,
  jobs: JobQueue,
  workspaceId: string,
  input: { key: string; kind: ComputedTraitKind; config?: unknown },
): Promise<ComputedTraitDefinitionEntity> {
  const config = validateDefinition(input);
  return em.transactional(async (tem) => {
    if (await tem.findOne(ComputedTraitDefinition, { key: input.key }))
      throw new ValidationError(`a computed trait with the key "${input.key}" exists`, 'key');
    const definition = tem.create(ComputedTraitDefinition, {
      workspace: workspaceId,
      key: input.key,
      kind: input.kind,
      config,
    });
    await tem.flush();
    await queueRecompute(tem, jobs, workspaceId);
    return definition;
  });
}

export async function updateComputedTrait(
  em: EntityManager,
  jobs: JobQueue,
  workspaceId: string,
  input: { id: string; kind?: ComputedTraitKind | null; config?: unknown },
): Promise<ComputedTraitDefinitionEntity> {
  return em.transactional(async (tem) => {
    const definition = await tem.findOne(ComputedTraitDefinition, { id: input.id });
    if (!definition) throw new NotFoundError('Computed trait');
    const kind = input.kind ?? definition.kind;
    const config = validateDefinition({
      key: definition.key,
      kind,
      config: input.config === undefined || input.config === null ? definition.config : input.config,
    });
    definition.kind = kind;
    definition.config = config;
    await tem.flush();
    await queueRecompute(tem, jobs, workspaceId);
    return definition;
  });
}

/** Deletes a definition no segment uses; the recompute removes its values from profiles. */
export async function deleteComputedTrait(
  em: EntityManager,
  jobs: JobQueue,
  workspaceId: string,
  operators: ReadonlyMap<string, AnySegmentOperator>,
  id: string,
): Promise<ComputedTraitDefinitionEntity> {
  return em.transactional(async (tem) => {
    const definition = await tem.findOne(ComputedTraitDefinition, { id });
    if (!definition) throw new NotFoundError('Computed trait');
    const users: string[] = [];
    for (const segment of await liveSegments(tem, workspaceId)) {
      try {
        const condition = validateCondition(segment.condition, operators);
        if (referencesOf(condition, operators, 'computed_trait').some((r) => r.key === definition.key))
          users.push(segment.key);
      } catch {
        // A segment whose condition no longer validates is not evaluated, so it uses nothing.
      }
    }
    if (users.length)
      throw new ValidationError(
        `computed trait "${definition.key}" is used by segments: ${users.join(', ')}`,
        'id',
      );
    tem.remove(definition);
    await tem.flush();
    await queueRecompute(tem, jobs, workspaceId);
    return definition;
  });
}
