import { errorTypeMap } from '@pothos/plugin-errors';
import { decodeGlobalID } from '@pothos/plugin-relay';
import {
  defaultFieldResolver,
  type GraphQLInputType,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
} from 'graphql';
import type { GraphQLContext } from '../../graphql/context.ts';
import { isUuid } from '../../kernel/ids.ts';
import { type AuditTarget, recordAudit } from './service.ts';

const REDACTED = '[redacted]';
/** Mutations that erase a person (GDPR): see `eraseAuditTargets` for the entries before them. */
const ERASURES = new Set(['eraseProfile']);

/**
 * Wraps every mutation of a built graph so that each one that succeeded (its result is not an
 * error member of its union, nothing was thrown) appends an audit entry: caller, field, target
 * ids, and the arguments' shape without free text (no personal data, no secrets).
 */
export function auditMutations(schema: GraphQLSchema): GraphQLSchema {
  const mutation = schema.getMutationType();
  for (const field of Object.values(mutation?.getFields() ?? {})) {
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = async (root, args, ctx: GraphQLContext, info) => {
      const result = await resolve(root, args, ctx, info);
      // A typed error member (NotFoundError, …) comes back wrapped by the errors plugin, not as an Error.
      if (result instanceof Error || errorTypeMap.has(result as object) || !ctx.principal || !ctx.workspace) {
        return result;
      }
      const targets: AuditTarget[] = [];
      const details = Object.fromEntries(
        field.args.map((arg) => [arg.name, shapeOf(args[arg.name], arg.type, arg.extensions, targets)]),
      );
      targets.push(...resultTargets(result));
      // After an erasure the person is gone: the entry keeps what was done, not whose id it was.
      if (ERASURES.has(field.name)) {
        for (const t of targets) if (t.type === 'Profile') t.id = 'erased';
      }
      try {
        await recordAudit(ctx.em, {
          workspaceId: ctx.workspace.id,
          actor: { kind: ctx.principal.kind, subject: ctx.principal.subject },
          action: `mutation.${field.name}`,
          targets: unique(targets),
          details,
          requestId: ctx.requestId,
        });
      } catch (error) {
        // The mutation has committed: answering with an error would make the client retry it.
        ctx.logger.error({ err: error, field: field.name }, 'audit entry could not be written');
      }
      return result;
    };
  }
  return schema;
}

function shapeOf(
  value: unknown,
  type: GraphQLInputType,
  extensions: Record<string, unknown> | null | undefined,
  targets: AuditTarget[],
): unknown {
  if (value === null || value === undefined) return null;
  if (isNonNullType(type)) return shapeOf(value, type.ofType, extensions, targets);
  if (isListType(type)) {
    return (value as unknown[]).slice(0, 50).map((v) => shapeOf(v, type.ofType, extensions, targets));
  }
  if (isInputObjectType(type)) {
    const fields = type.getFields();
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => {
        const f = fields[k];
        return [k, f ? shapeOf(v, f.type, f.extensions, targets) : REDACTED];
      }),
    );
  }
  if (isEnumType(type)) return value;
  if (isScalarType(type)) {
    if (type.name === 'Boolean' || type.name === 'Int' || type.name === 'Float') return value;
    if (type.name === 'DateTime') return value instanceof Date ? value.toISOString() : value;
    if (type.name === 'ID' && typeof value === 'string') {
      const target = decodeTarget(value, extensions);
      if (target) {
        // The id lives in `targets` only, where GDPR erasure finds it.
        targets.push(target);
        return `[${target.type}]`;
      }
    }
  }
  return REDACTED;
}

/** A global id (`base64(Type:uuid)`) or, for an argument that takes a raw id, the uuid itself. */
function decodeTarget(
  value: string,
  extensions: Record<string, unknown> | null | undefined,
): AuditTarget | null {
  if (isUuid(value)) {
    const type = (extensions?.relayGlobalIDFor as { typename: string }[] | undefined)?.[0]?.typename;
    return { type: type ?? 'unknown', id: value };
  }
  try {
    const { typename, id } = decodeGlobalID(value);
    return typename && isUuid(id) ? { type: typename, id } : null;
  } catch {
    return null; // free text that is not a global id
  }
}

/** Records the payload names (`{ apiKey }`, `{ profile }`): the ones a create made. */
function resultTargets(result: unknown): AuditTarget[] {
  if (!result || typeof result !== 'object') return [];
  const found: AuditTarget[] = [];
  for (const [key, value] of Object.entries(result as Record<string, unknown>)) {
    const id = (value as { id?: unknown } | null)?.id;
    if (typeof id === 'string' && isUuid(id)) {
      const name = (value as object).constructor?.name;
      found.push({ type: name && name !== 'Object' ? name : `${key[0]?.toUpperCase()}${key.slice(1)}`, id });
    }
  }
  return found;
}

function unique(targets: AuditTarget[]): AuditTarget[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const key = `${t.type}:${t.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
