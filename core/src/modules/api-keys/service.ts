import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '../../auth/principal.ts';
import { type Scope, scopesForRoles } from '../../auth/scopes.ts';
import { NotFoundError, ValidationError } from '../../kernel/errors.ts';
import { recordEvent } from '../../kernel/events.ts';
import { Workspace } from '../workspaces/entities.ts';
import { ApiKey, type ApiKeyEntity } from './entities.ts';

/** Every key starts with this, so secret scanners and our authenticator recognise it. */
export const API_KEY_PREFIX = 'atk_';

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function looksLikeApiKey(credential: string): boolean {
  return credential.startsWith(API_KEY_PREFIX);
}

export interface CreatedApiKey {
  apiKey: ApiKeyEntity;
  /** Shown once; only its hash is stored. */
  secret: string;
}

export async function createApiKey(
  em: EntityManager,
  workspaceId: string,
  input: { name: string; role: Scope },
): Promise<CreatedApiKey> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200)
    throw new ValidationError('name must be 1 to 200 characters', 'name');
  const prefix = randomBytes(6).toString('base64url');
  const secret = `${API_KEY_PREFIX}${prefix}_${randomBytes(32).toString('base64url')}`;
  const apiKey = em.create(ApiKey, {
    workspace: workspaceId,
    name,
    prefix,
    secretHash: hashSecret(secret),
    role: input.role,
  });
  recordEvent(em, {
    type: 'api-key.created',
    workspaceId,
    subject: apiKey.id,
    payload: { id: apiKey.id, name, prefix, role: input.role },
  });
  await em.flush();
  return { apiKey, secret };
}

export async function revokeApiKey(em: EntityManager, id: string): Promise<ApiKeyEntity> {
  const apiKey = await em.findOne(ApiKey, { id });
  if (!apiKey) throw new NotFoundError('API key');
  if (!apiKey.revokedAt) {
    apiKey.revokedAt = new Date();
    recordEvent(em, {
      type: 'api-key.revoked',
      workspaceId: apiKey.workspace,
      subject: apiKey.id,
      payload: { id: apiKey.id, name: apiKey.name, prefix: apiKey.prefix },
    });
  }
  await em.flush();
  return apiKey;
}

/** Looks a presented key up by its hash across workspaces: the key itself names its workspace. */
export async function authenticateApiKey(em: EntityManager, secret: string): Promise<Principal | null> {
  const apiKey = await em.findOne(
    ApiKey,
    { secretHash: hashSecret(secret), revokedAt: null },
    { filters: false },
  );
  if (!apiKey) return null;
  const workspace = await em.findOne(Workspace, { id: apiKey.workspace }, { filters: false });
  if (!workspace) return null;
  // Touch at most once a minute: a hot key must not turn every request into a write.
  if (!apiKey.lastUsedAt || Date.now() - apiKey.lastUsedAt.getTime() > 60_000) {
    await em.nativeUpdate(ApiKey, { id: apiKey.id }, { lastUsedAt: new Date() }, { filters: false });
  }
  return {
    kind: 'api-key',
    subject: `api-key:${apiKey.id}`,
    workspaceSlug: workspace.slug,
    scopes: scopesForRoles([apiKey.role]),
  };
}
