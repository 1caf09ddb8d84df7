import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import { type DefinitionContext, type JourneyDefinition, validateDefinition } from '../definition.ts';
import { type EnrollOutcome, enroll } from '../engine/enroll.ts';
import { exitEnrollments } from '../engine/triggers.ts';
import {
  type InFlightPolicy,
  Journey,
  type JourneyEntity,
  JourneyVersion,
  type JourneyVersionEntity,
} from '../entities.ts';

const KEY = /^[a-z][a-z0-9-]{1,99}$/;
const MAX_DRAFT_BYTES = 256 * 1024;

export async function createJourney(
  em: EntityManager,
  workspaceId: string,
  input: { key: string; name: string; draft?: unknown },
): Promise<JourneyEntity> {
  if (!KEY.test(input.key))
    throw new ValidationError('key must be lower-case letters, digits and dashes', 'key');
  if (await em.findOne(Journey, { workspace: workspaceId, key: input.key })) {
    throw new ValidationError(`a journey with the key "${input.key}" exists`, 'key');
  }
  const journey = em.create(Journey, {
    workspace: workspaceId,
    key: input.key,
    name: nameOf(input.name),
    draft: draftOf(input.draft),
  });
  await em.flush();
  return journey;
}

/** Drafts are saved as they are (work in progress); `validateJourneyDraft` and publishing check them. */
export async function updateJourneyDraft(
  em: EntityManager,
  id: string,
  patch: { name?: string | null; draft?: unknown },
): Promise<JourneyEntity> {
  const journey = await getJourney(em, id);
  if (journey.status === 'archived') throw new ValidationError('an archived journey cannot change', 'id');
  if (patch.name != null) journey.name = nameOf(patch.name);
  if (patch.draft !== undefined) journey.draft = draftOf(patch.draft);
  await em.flush();
  return journey;
}

export async function getJourney(em: EntityManager, id: string): Promise<JourneyEntity> {
  const journey = await em.findOne(Journey, { id });
  if (!journey) throw new NotFoundError('the journey');
  return journey;
}

/**
 * Publishes the draft as the next immutable version. New enrollments join it; running ones
 * follow `inFlight`: `keep` lets them finish on the version they entered, `exit` ends them
 * (reason: replaced by version N). The choice is stored with the version.
 */
export async function publishJourney(
  em: EntityManager,
  context: DefinitionContext,
  id: string,
  inFlight: InFlightPolicy,
  actor: string | null,
): Promise<{ journey: JourneyEntity; version: JourneyVersionEntity; exited: number }> {
  const journey = await getJourney(em, id);
  if (journey.status === 'archived')
    throw new ValidationError('an archived journey cannot be published', 'id');
  const definition = validateDefinition(journey.draft, context);
  const version = (journey.publishedVersion ?? 0) + 1;
  const row = em.create(JourneyVersion, {
    workspace: journey.workspace,
    journey: journey.id,
    version,
    definition,
    inFlightPolicy: inFlight,
    publishedBy: actor,
  });
  journey.publishedVersion = version;
  journey.status = 'published';
  await em.flush();
  let exited = 0;
  if (inFlight === 'exit' && version > 1) {
    const gone = await sql(
      em,
      `update journey_enrollment set status = 'exited', end_reason = $3, ended_at = now(), due_at = null, updated_at = now()
       where journey_id = $1 and version < $2 and status in ('active', 'waiting') returning id`,
      [journey.id, version, `replaced by version ${version}`],
    );
    exited = gone.length;
  }
  recordEvent(em, {
    type: 'journey.published',
    workspaceId: journey.workspace,
    subject: journey.id,
    payload: { journeyId: journey.id, version, inFlight, exitedEnrollments: exited, actor },
  });
  return { journey, version: row, exited };
}

/** Paused: no new enrollments, running ones hold where they are until resumed. */
export async function setJourneyStatus(
  em: EntityManager,
  id: string,
  action: 'pause' | 'resume' | 'archive',
  actor: string | null,
): Promise<JourneyEntity> {
  const journey = await getJourney(em, id);
  const allowed: Record<typeof action, string[]> = {
    pause: ['published'],
    resume: ['paused'],
    archive: ['draft', 'published', 'paused'],
  };
  if (!allowed[action].includes(journey.status)) {
    throw new ValidationError(`a ${journey.status} journey cannot ${action}`, 'id');
  }
  journey.status = action === 'pause' ? 'paused' : action === 'resume' ? 'published' : 'archived';
  await em.flush();
  if (action === 'archive') {
    await sql(
      em,
      `update journey_enrollment set status = 'exited', end_reason = 'journey archived', ended_at = now(), due_at = null, updated_at = now()
       where journey_id = $1 and status in ('active', 'waiting')`,
      [journey.id],
    );
  }
  recordEvent(em, {
    type: `journey.${journey.status}`,
    workspaceId: journey.workspace,
    subject: journey.id,
    payload: { journeyId: journey.id, actor },
  });
  return journey;
}

/** The `api` trigger: a system (or an agent) puts a profile into a journey. */
export async function enrollProfile(
  em: EntityManager,
  id: string,
  profileId: string,
  context: Record<string, unknown>,
): Promise<EnrollOutcome> {
  const journey = await getJourney(em, id);
  if (journey.status !== 'published' || journey.publishedVersion == null) {
    throw new ValidationError('only a published journey takes enrollments', 'journeyId');
  }
  const [version] = await sql<{ definition: JourneyDefinition }>(
    em,
    `select definition from journey_version where journey_id = $1 and version = $2`,
    [journey.id, journey.publishedVersion],
  );
  const definition = (version as { definition: JourneyDefinition }).definition;
  if (definition.trigger.type !== 'api') {
    throw new ValidationError(`this journey starts on ${definition.trigger.type}, not by API`, 'journeyId');
  }
  const profile = await sql(em, `select 1 from profile where id = $1 and workspace_id = $2`, [
    profileId,
    journey.workspace,
  ]);
  if (!profile.length) throw new NotFoundError('the profile');
  return enroll(
    em,
    { workspaceId: journey.workspace, journeyId: journey.id, version: journey.publishedVersion, definition },
    profileId,
    new Date(),
    context,
  );
}

/** Takes a profile out of a journey by hand (an agent after a complaint, say). */
export async function exitProfile(
  em: EntityManager,
  id: string,
  profileId: string,
  actor: string | null,
): Promise<void> {
  const journey = await getJourney(em, id);
  await exitEnrollments(em, journey.id, [profileId], `exited by ${actor ?? 'an operator'}`);
}

function nameOf(raw: string): string {
  const name = raw.trim();
  if (!name || name.length > 200) throw new ValidationError('name must have 1 to 200 characters', 'name');
  return name;
}

function draftOf(raw: unknown): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ValidationError('draft must be an object', 'draft');
  if (JSON.stringify(raw).length > MAX_DRAFT_BYTES)
    throw new ValidationError('draft is larger than 256 KB', 'draft');
  return raw as Record<string, unknown>;
}
