import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import { WriteKey, type WriteKeyEntity } from '../entities.ts';

/** Every write key starts with this, so secret scanners and support recognise it. */
export const WRITE_KEY_PREFIX = 'awk_';

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface CreatedWriteKey {
  writeKey: WriteKeyEntity;
  /** Shown once; only its hash is stored. */
  key: string;
}

export async function createWriteKey(
  em: EntityManager,
  workspaceId: string,
  input: { name: string },
): Promise<CreatedWriteKey> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200)
    throw new ValidationError('name must be 1 to 200 characters', 'name');
  const prefix = randomBytes(6).toString('base64url');
  const key = `${WRITE_KEY_PREFIX}${prefix}_${randomBytes(24).toString('base64url')}`;
  const writeKey = em.create(WriteKey, { workspace: workspaceId, name, prefix, keyHash: hashKey(key) });
  recordEvent(em, {
    type: 'write-key.created',
    workspaceId,
    subject: writeKey.id,
    payload: { id: writeKey.id, name, prefix },
  });
  await em.flush();
  return { writeKey, key };
}

export async function revokeWriteKey(em: EntityManager, id: string): Promise<WriteKeyEntity> {
  const writeKey = await em.findOne(WriteKey, { id });
  if (!writeKey) throw new NotFoundError('Write key');
  if (!writeKey.revokedAt) {
    writeKey.revokedAt = new Date();
    recordEvent(em, {
      type: 'write-key.revoked',
      workspaceId: writeKey.workspace,
      subject: writeKey.id,
      payload: { id: writeKey.id, name: writeKey.name, prefix: writeKey.prefix },
    });
  }
  await em.flush();
  return writeKey;
}

/** Who a presented key belongs to; `revoked` keys are known so the answer can say why it failed. */
export interface WriteKeyHolder {
  id: string;
  workspaceId: string;
  revoked: boolean;
}

/**
 * Answers "whose key is this?" for every ingestion request. Hot keys are kept for `ttlMs`
 * so a busy site is not one database read per request; a revocation here is seen at once,
 * one in another process within `ttlMs`.
 */
export class WriteKeyAuthenticator {
  readonly #orm: MikroORM;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { holder: WriteKeyHolder | null; expiresAt: number }>();

  constructor(orm: MikroORM, ttlMs = 5_000) {
    this.#orm = orm;
    this.#ttlMs = ttlMs;
  }

  async authenticate(key: string): Promise<WriteKeyHolder | null> {
    const hash = hashKey(key);
    const cached = this.#cache.get(hash);
    if (cached && cached.expiresAt > Date.now()) return cached.holder;
    // The key itself names its workspace, so the lookup crosses workspaces.
    const row = await this.#orm.em.fork().findOne(WriteKey, { keyHash: hash }, { filters: false });
    const holder = row ? { id: row.id, workspaceId: row.workspace, revoked: row.revokedAt !== null } : null;
    // Unknown keys are remembered too, so a misconfigured client cannot hammer the database.
    if (this.#cache.size >= 10_000) this.#cache.clear();
    this.#cache.set(hash, { holder, expiresAt: Date.now() + this.#ttlMs });
    return holder;
  }

  /** Drops a key from the cache, e.g. right after it was revoked in this process. */
  forget(writeKeyId: string): void {
    for (const [hash, entry] of this.#cache) if (entry.holder?.id === writeKeyId) this.#cache.delete(hash);
  }
}

const authenticators = new WeakMap<MikroORM, WriteKeyAuthenticator>();

/** One authenticator per running Atrium (keyed by its ORM), shared by its routes and schema. */
export function writeKeyAuthenticatorOf(orm: MikroORM): WriteKeyAuthenticator {
  let authenticator = authenticators.get(orm);
  if (!authenticator) {
    authenticator = new WriteKeyAuthenticator(orm);
    authenticators.set(orm, authenticator);
  }
  return authenticator;
}
