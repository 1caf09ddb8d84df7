import { createHash } from 'node:crypto';
import { type EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { type GraphQLSchema, Kind, parse, validate } from 'graphql';
import { NotFoundError, ValidationError } from '../../kernel/errors.ts';
import { PersistedOperation, type PersistedOperationEntity } from './entities.ts';

/** Most documents in one registration; a frontend's build registers all its operations at once. */
export const MAX_DOCUMENTS_PER_REGISTRATION = 500;

/** The key clients send: lower-case hex SHA-256 of the document's exact text (Apollo APQ). */
function operationHash(document: string): string {
  return createHash('sha256').update(document).digest('hex');
}

/**
 * Adds documents to the workspace's allow-list. Every document must parse and validate against
 * the Public graph; the first that does not refuses the whole list and nothing is stored.
 * Registering a document twice is harmless: the existing entry comes back.
 */
export async function registerPersistedOperations(
  em: EntityManager,
  workspaceId: string,
  publicSchema: GraphQLSchema,
  documents: string[],
): Promise<PersistedOperationEntity[]> {
  if (documents.length === 0 || documents.length > MAX_DOCUMENTS_PER_REGISTRATION) {
    throw new ValidationError(
      `documents must hold 1 to ${MAX_DOCUMENTS_PER_REGISTRATION} documents`,
      'documents',
    );
  }
  const checked = documents.map((document, index) => ({
    document,
    hash: operationHash(document),
    operationName: checkDocument(publicSchema, document, `documents.${index}`),
  }));
  const hashes = [...new Set(checked.map((c) => c.hash))];
  const existing = new Map(
    (await em.find(PersistedOperation, { hash: { $in: hashes } })).map((op) => [op.hash, op]),
  );
  for (const { document, hash, operationName } of checked) {
    if (existing.has(hash)) continue;
    existing.set(
      hash,
      em.create(PersistedOperation, { workspace: workspaceId, hash, document, operationName }),
    );
  }
  try {
    await em.flush();
  } catch (error) {
    // A concurrent registration (two builds of one frontend) stored some of them first; the rows
    // are the same documents (same hash), so read them back instead of failing.
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
    em.clear();
    const stored = await em.find(PersistedOperation, { hash: { $in: hashes } });
    if (stored.length < hashes.length) throw error;
    return hashes.map((hash) => stored.find((op) => op.hash === hash) as PersistedOperationEntity);
  }
  return hashes.map((hash) => existing.get(hash) as PersistedOperationEntity);
}

export async function removePersistedOperation(em: EntityManager, id: string): Promise<string> {
  const operation = await em.findOne(PersistedOperation, { id });
  if (!operation) throw new NotFoundError('Persisted operation');
  em.remove(operation);
  await em.flush();
  return id;
}

/** The document registered under `hash` in the workspace, or null; never another workspace's. */
export async function findPersistedDocument(
  em: EntityManager,
  workspaceId: string,
  hash: string,
): Promise<string | null> {
  const operation = await em.findOne(PersistedOperation, {
    workspace: workspaceId,
    hash: hash.toLowerCase(),
  });
  return operation?.document ?? null;
}

/** Parses and validates one document against the Public graph; returns its first operation's name. */
function checkDocument(schema: GraphQLSchema, document: string, field: string): string | null {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(document);
  } catch (error) {
    throw new ValidationError(`${field} does not parse: ${(error as Error).message}`, field);
  }
  const problems = validate(schema, parsed);
  if (problems.length) {
    throw new ValidationError(
      `${field} is not valid on the Public graph: ${problems.map((p) => p.message).join('; ')}`,
      field,
    );
  }
  const operations = parsed.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length === 0) throw new ValidationError(`${field} holds no operation`, field);
  return operations[0]?.name?.value.slice(0, 200) ?? null;
}
