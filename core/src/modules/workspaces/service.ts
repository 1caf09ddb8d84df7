import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
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

interface CachedWorkspace {
  workspace: WorkspaceEntity;
  expiresAt: number;
}

/**
 * Resolves the workspace a credential names on every request. Workspaces change rarely,
 * so answers are kept for a few seconds: a renamed or deleted workspace is seen within `ttlMs`.
 * A change to its settings through this process's ORM is seen at once here, within `ttlMs` on
 * other processes.
 */
export class WorkspaceLookup {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #cache = new Map<string, CachedWorkspace>();

  constructor(orm: MikroORM, ttlMs = 10_000, maxEntries = 10_000) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
    orm.em.getEventManager().registerSubscriber({
      getSubscribedEntities: () => [Workspace],
      afterUpdate: ({ entity }) => void this.#cache.delete((entity as WorkspaceEntity).slug),
    });
  }

  async bySlug(em: EntityManager, slug: string): Promise<WorkspaceEntity | null> {
    const cached = this.#cache.get(slug);
    if (cached && cached.expiresAt > Date.now()) return em.merge(Workspace, cached.workspace);
    const workspace = await findWorkspaceBySlug(em, slug);
    if (workspace) {
      if (this.#cache.size >= this.#maxEntries) this.#cache.clear();
      this.#cache.set(slug, { workspace, expiresAt: Date.now() + this.#ttlMs });
    }
    return workspace;
  }
}
