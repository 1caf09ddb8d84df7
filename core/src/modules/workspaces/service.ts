import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationError } from '../../kernel/errors.ts';
import { Workspace, type WorkspaceEntity } from './entities.ts';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Creates the workspace when it is missing; returns it either way. */
export async function ensureWorkspace(
  em: EntityManager,
  slug: string,
  name: string,
): Promise<WorkspaceEntity> {
  if (!SLUG.test(slug))
    throw new ValidationError('slug must be lower-case letters, digits and dashes', 'slug');
  const existing = await em.findOne(Workspace, { slug });
  if (existing) return existing;
  const workspace = em.create(Workspace, { slug, name });
  await em.flush();
  return workspace;
}

export function findWorkspaceBySlug(em: EntityManager, slug: string): Promise<WorkspaceEntity | null> {
  return em.findOne(Workspace, { slug });
}
