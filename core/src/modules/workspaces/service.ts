import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { NotFoundError, ValidationError } from '../../kernel/errors.ts';
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

/** Most origins one workspace lists: frontends, staging sites, the admin console. */
export const MAX_ALLOWED_ORIGINS = 50;

export interface WorkspaceSecurityInput {
  /** Replaces the list; an empty list lets any origin call again. Absent: unchanged. */
  allowedOrigins?: string[] | null;
  /** Absent: unchanged. */
  persistedOperationsOnly?: boolean | null;
}

/** Changes the workspace's browser origins and persisted-operations policy; bad input changes nothing. */
export async function updateWorkspaceSecurity(
  em: EntityManager,
  workspaceId: string,
  input: WorkspaceSecurityInput,
): Promise<WorkspaceEntity> {
  const origins = input.allowedOrigins?.map((value, index) => normalizeOrigin(value, index));
  if (origins && origins.length > MAX_ALLOWED_ORIGINS) {
    throw new ValidationError(`at most ${MAX_ALLOWED_ORIGINS} origins may be listed`, 'allowedOrigins');
  }
  const workspace = await em.findOne(Workspace, { id: workspaceId });
  if (!workspace) throw new NotFoundError('Workspace');
  if (origins) workspace.allowedOrigins = [...new Set(origins)];
  if (typeof input.persistedOperationsOnly === 'boolean') {
    workspace.persistedOperationsOnly = input.persistedOperationsOnly;
  }
  await em.flush();
  return workspace;
}

/**
 * `scheme://host[:port]` as a browser sends it in `Origin` (lower-case host, default port
 * dropped), so that the check at request time is a plain comparison.
 */
function normalizeOrigin(value: string, index: number): string {
  const field = `allowedOrigins.${index}`;
  const refuse = () =>
    new ValidationError(
      `${field} must be an origin such as https://shop.example.com[:port] (got "${value}")`,
      field,
    );
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw refuse();
  }
  // Only scheme, host and port: no path, query, fragment, credentials or wildcard hosts.
  const bare = /^[a-z]+:\/\/[^/?#@]+\/?$/i.test(value.trim());
  const host = /^([a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/.test(url.hostname);
  if (!['http:', 'https:'].includes(url.protocol) || !bare || !host) throw refuse();
  return url.origin;
}
