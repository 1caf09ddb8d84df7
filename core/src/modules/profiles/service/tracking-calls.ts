import { ValidationError } from '../../../kernel/errors.ts';
import type { EventType } from '../entities.ts';
import { type IdentityKey, normaliseIdentity } from './identities.ts';

/** Segment's limits: one call at most 32 KB, a batch request at most 500 KB. */
export const MAX_CALL_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;

/** One Segment call, checked and shaped for storage; nothing here has touched the database. */
export interface TrackingCall {
  /** Where it stood in the request, for error messages: '' for a single call, 'batch[3].' in a batch. */
  at: string;
  messageId: string;
  type: EventType;
  name: string | null;
  userId: string | null;
  anonymousId: string | null;
  /** Alias only: the id the user had before, normalised like any id. */
  previousId: string | null;
  properties: Record<string, unknown>;
  /** identify: the traits to merge into the profile; group: the group's traits; else empty. */
  traits: Record<string, unknown>;
  context: Record<string, unknown>;
  channel: string;
  timestamp: Date;
  sentAt: Date | null;
  originalTimestamp: Date | null;
  receivedAt: Date;
  /** The identities it carries (alias: userId only; previousId is resolved against the graph). */
  keys: IdentityKey[];
}

export type Endpoint = EventType | 'batch';

/**
 * Checks a request body against Segment's HTTP tracking API spec and returns its calls.
 * The first problem throws a ValidationError whose message and field name the input,
 * e.g. `batch[3].event is required`; no call is returned half-checked.
 */
export function parseTrackingRequest(
  body: unknown,
  endpoint: Endpoint,
  receivedAt: Date,
  bodyBytes: number,
): TrackingCall[] {
  const root = objectAt(body, null);
  if (endpoint !== 'batch') return [parseCall(root, endpoint, '', receivedAt, {})];
  const batch = root.batch;
  if (!Array.isArray(batch)) throw new ValidationError('batch must be an array of calls', 'batch');
  if (batch.length === 0) throw new ValidationError('batch must not be empty', 'batch');
  // What the batch says once for all its calls: when it was sent, and a shared context.
  const shared: BatchDefaults = {
    sentAt: dateAt(root, 'sentAt', ''),
    context: optionalObjectAt(root, 'context', ''),
  };
  // A body under 32 KB cannot hold a call over 32 KB; only larger bodies pay for measuring.
  const measure = bodyBytes > MAX_CALL_BYTES;
  return batch.map((item, i) => {
    const at = `batch[${i}].`;
    if (measure && Buffer.byteLength(JSON.stringify(item ?? null)) > MAX_CALL_BYTES) {
      throw new ValidationError(`batch[${i}] is larger than 32 KB`, `batch[${i}]`);
    }
    const call = objectAt(item, `batch[${i}]`);
    const type = call.type;
    if (type === undefined || type === null) throw new ValidationError(`${at}type is required`, `${at}type`);
    if (!isEventType(type)) {
      throw new ValidationError(
        `${at}type must be one of track, identify, page, screen, group, alias`,
        `${at}type`,
      );
    }
    return parseCall(call, type, at, receivedAt, shared);
  });
}

interface BatchDefaults {
  sentAt: Date | null;
  context: Record<string, unknown>;
}

const eventTypeNames = new Set<string>(['track', 'identify', 'page', 'screen', 'group', 'alias']);
function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && eventTypeNames.has(value);
}

function parseCall(
  call: Record<string, unknown>,
  type: EventType,
  at: string,
  receivedAt: Date,
  shared: Partial<BatchDefaults>,
): TrackingCall {
  const userId = idAt(call, 'userId', at);
  const anonymousId = idAt(call, 'anonymousId', at);
  let previousId: string | null = null;
  if (type === 'alias') {
    const raw = idAt(call, 'previousId', at);
    if (!raw) throw new ValidationError(`${at}previousId is required`, `${at}previousId`);
    // User ids and anonymous ids are spelled alike, so the spelling does not wait for the type.
    previousId = normaliseIdentity('anonymous_id', raw, `${at}previousId`).value;
    if (!userId) throw new ValidationError(`${at}userId is required`, `${at}userId`);
  } else if (!userId && !anonymousId) {
    throw new ValidationError(`${at}userId or anonymousId is required`, `${at}userId`);
  }

  const own = optionalObjectAt(call, 'context', at);
  const context = shared.context ? { ...shared.context, ...own } : own;
  let properties = optionalObjectAt(call, 'properties', at);
  const ownTraits = optionalObjectAt(call, 'traits', at);
  const contextTraits = optionalObjectAt(context, 'traits', `${at}context.`);

  let name: string | null = null;
  if (type === 'track') {
    name = stringAt(call, 'event', at, 200);
    if (name === null || name.trim() === '')
      throw new ValidationError(`${at}event is required`, `${at}event`);
  } else if (type === 'page' || type === 'screen') {
    name = stringAt(call, 'name', at, 200);
  } else if (type === 'group') {
    name = idAt(call, 'groupId', at, 200);
    if (!name) throw new ValidationError(`${at}groupId is required`, `${at}groupId`);
  } else if (type === 'alias') {
    properties = { ...properties, previousId };
  }

  const keys: IdentityKey[] = [];
  if (anonymousId) keys.push(normaliseIdentity('anonymous_id', anonymousId, `${at}anonymousId`));
  if (userId) keys.push(normaliseIdentity('user_id', userId, `${at}userId`));
  // identify says who the person is in `traits`; any call may repeat it in `context.traits`
  // (a group's own traits describe the group, so its e-mail is not the person's).
  const personTraits = type === 'identify' ? ownTraits : {};
  for (const identity of ['email', 'phone'] as const) {
    const fromTraits = isPresent(personTraits[identity]);
    const raw = fromTraits ? personTraits[identity] : contextTraits[identity];
    if (!isPresent(raw)) continue;
    const field = `${at}${fromTraits ? 'traits' : 'context.traits'}.${identity}`;
    keys.push(normaliseIdentity(identity, raw, field));
  }

  const channel = stringAt(call, 'channel', at, 50) ?? 'server';
  const messageId = idAt(call, 'messageId', at, 200) ?? crypto.randomUUID();
  // Segment's clock-skew correction: trust the server's clock for when the call was sent.
  const originalTimestamp = dateAt(call, 'timestamp', at) ?? dateAt(call, 'originalTimestamp', at);
  const sentAt = dateAt(call, 'sentAt', at) ?? shared.sentAt ?? null;
  const timestamp =
    originalTimestamp && sentAt
      ? new Date(receivedAt.getTime() - (sentAt.getTime() - originalTimestamp.getTime()))
      : (originalTimestamp ?? receivedAt);

  return {
    at,
    messageId,
    type,
    name,
    userId,
    anonymousId,
    previousId,
    properties,
    traits: type === 'identify' || type === 'group' ? ownTraits : {},
    context,
    channel,
    timestamp,
    sentAt,
    originalTimestamp,
    receivedAt,
    keys,
  };
}

/** `field` null means the request body itself. */
function objectAt(value: unknown, field: string | null): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(`${field ?? 'the request body'} must be a JSON object`, field);
  }
  return value as Record<string, unknown>;
}

function optionalObjectAt(call: Record<string, unknown>, key: string, at: string): Record<string, unknown> {
  const value = call[key];
  if (value === undefined || value === null) return {};
  return objectAt(value, `${at}${key}`);
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

function stringAt(call: Record<string, unknown>, key: string, at: string, max: number): string | null {
  const value = call[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new ValidationError(`${at}${key} must be a string`, `${at}${key}`);
  if (value.length > max) {
    throw new ValidationError(`${at}${key} must be at most ${max} characters`, `${at}${key}`);
  }
  return value;
}

/** Ids may be strings or numbers (Segment accepts both); empty means absent. */
function idAt(call: Record<string, unknown>, key: string, at: string, max = 320): string | null {
  const value = call[key];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) {
    throw new ValidationError(`${at}${key} must be a string`, `${at}${key}`);
  }
  const id = String(value);
  if (id.length > max)
    throw new ValidationError(`${at}${key} must be at most ${max} characters`, `${at}${key}`);
  return id;
}

const EARLIEST = Date.UTC(1900, 0, 1);
const LATEST = Date.UTC(9999, 11, 31);

function dateAt(call: Record<string, unknown>, key: string, at: string): Date | null {
  const value = call[key];
  if (value === undefined || value === null) return null;
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms) || ms < EARLIEST || ms > LATEST) {
    throw new ValidationError(`${at}${key} must be an ISO 8601 date-time`, `${at}${key}`);
  }
  return new Date(ms);
}
