import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { Segment } from '../../profiles/entities.ts';
import type { AnyChannel } from '../channels.ts';
import {
  Agent,
  type AgentEntity,
  type ConversationPriority,
  type RoutingMatch,
  RoutingRule,
  type RoutingRuleEntity,
} from '../entities.ts';

const TOKEN = /^[a-z0-9][a-z0-9:._-]{0,49}$/;
const LANGUAGE = /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/;

/** A list of short lower-case names (skills, teams, intents), cleaned and checked. */
function tokens(values: string[] | null | undefined, field: string, pattern = TOKEN): string[] {
  const clean = [...new Set((values ?? []).map((v) => v.trim().toLowerCase()).filter(Boolean))];
  if (clean.length > 50) throw new ValidationError(`${field} takes at most 50 values`, field);
  const bad = clean.find((v) => !pattern.test(v));
  if (bad) throw new ValidationError(`"${bad}" is not a valid value for ${field}`, field);
  return clean;
}

function text(value: string | null | undefined, field: string, max: number): string {
  const clean = value?.trim() ?? '';
  if (!clean || clean.length > max)
    throw new ValidationError(`${field} must have 1 to ${max} characters`, field);
  return clean;
}

export interface AgentInput {
  /** The token subject or API key id the agent signs in with. */
  subject: string;
  displayName?: string | null;
  skills?: string[] | null;
  teams?: string[] | null;
  languages?: string[] | null;
  maxOpen?: number | null;
  available?: boolean | null;
}

/** Registers an agent for routing, or changes one (matched by subject); fields left out stay. */
export async function upsertAgent(
  em: EntityManager,
  workspaceId: string,
  input: AgentInput,
): Promise<AgentEntity> {
  const subject = text(input.subject, 'subject', 200);
  const agent =
    (await em.findOne(Agent, { subject })) ??
    em.create(Agent, { workspace: workspaceId, subject, displayName: subject });
  if (input.displayName != null) agent.displayName = text(input.displayName, 'displayName', 200);
  if (input.skills != null) agent.skills = tokens(input.skills, 'skills');
  if (input.teams != null) agent.teams = tokens(input.teams, 'teams');
  if (input.languages != null) agent.languages = tokens(input.languages, 'languages', LANGUAGE);
  if (input.maxOpen != null) {
    if (!Number.isInteger(input.maxOpen) || input.maxOpen < 0 || input.maxOpen > 1000) {
      throw new ValidationError('maxOpen must be between 0 and 1000', 'maxOpen');
    }
    agent.maxOpen = input.maxOpen;
  }
  if (input.available != null) agent.available = input.available;
  await em.flush();
  return agent;
}

export async function deleteAgent(em: EntityManager, id: string): Promise<string> {
  const agent = await em.findOne(Agent, { id });
  if (!agent) throw new NotFoundError('the agent');
  await em.remove(agent).flush();
  return id;
}

export function listAgents(
  em: EntityManager,
  page: { offset: number; limit: number },
): Promise<AgentEntity[]> {
  return em.find(Agent, {}, { orderBy: { displayName: 'asc', id: 'asc' }, ...page });
}

export interface RoutingRuleInput {
  name?: string | null;
  /** Lower goes first; default: after the last rule. */
  position?: number | null;
  match?: RoutingMatch | null;
  team?: string | null;
  requiredSkills?: string[] | null;
  priority?: ConversationPriority | null;
  enabled?: boolean | null;
}

/** Checks a rule's match: channels that exist, segment keys of the workspace, clean intents and languages. */
async function checkMatch(
  em: EntityManager,
  channels: ReadonlyMap<string, AnyChannel>,
  match: RoutingMatch,
): Promise<RoutingMatch> {
  const clean: RoutingMatch = {};
  const channelCodes = tokens(match.channels, 'match.channels');
  const unknown = channelCodes.find((c) => !channels.has(c));
  if (unknown) {
    throw new ValidationError(
      `unknown channel "${unknown}"; channels: ${[...channels.keys()].join(', ') || 'none'}`,
      'match.channels',
    );
  }
  if (channelCodes.length) clean.channels = channelCodes;
  const languages = tokens(match.languages, 'match.languages', LANGUAGE);
  if (languages.length) clean.languages = languages;
  const segments = [...new Set((match.segments ?? []).map((s) => s.trim()).filter(Boolean))];
  if (segments.length) {
    const found = new Set((await em.find(Segment, { key: { $in: segments } })).map((s) => s.key));
    const missing = segments.find((k) => !found.has(k));
    if (missing) throw new ValidationError(`no segment has the key "${missing}"`, 'match.segments');
    clean.segments = segments;
  }
  const intents = tokens(match.intents, 'match.intents');
  if (intents.length) clean.intents = intents;
  return clean;
}

export async function createRoutingRule(
  em: EntityManager,
  workspaceId: string,
  channels: ReadonlyMap<string, AnyChannel>,
  input: RoutingRuleInput,
): Promise<RoutingRuleEntity> {
  const [last] = await sql<{ max: number | null }>(
    em,
    'select max(position) as max from routing_rule where workspace_id = $1',
    [workspaceId],
  );
  const rule = em.create(RoutingRule, {
    workspace: workspaceId,
    name: text(input.name, 'name', 200),
    position: input.position ?? (last?.max ?? 0) + 1,
    match: await checkMatch(em, channels, input.match ?? {}),
    team: input.team?.trim() || null,
    requiredSkills: tokens(input.requiredSkills, 'requiredSkills'),
    priority: input.priority ?? null,
    enabled: input.enabled ?? true,
  });
  checkTeam(rule.team ?? null);
  await em.flush();
  return rule;
}

export async function updateRoutingRule(
  em: EntityManager,
  channels: ReadonlyMap<string, AnyChannel>,
  id: string,
  patch: RoutingRuleInput,
): Promise<RoutingRuleEntity> {
  const rule = await em.findOne(RoutingRule, { id });
  if (!rule) throw new NotFoundError('the routing rule');
  if (patch.name != null) rule.name = text(patch.name, 'name', 200);
  if (patch.position != null) rule.position = patch.position;
  if (patch.match != null) rule.match = await checkMatch(em, channels, patch.match);
  // An empty string clears the team; null or absent keeps it.
  if (patch.team != null) rule.team = checkTeam(patch.team.trim() || null);
  if (patch.requiredSkills != null) rule.requiredSkills = tokens(patch.requiredSkills, 'requiredSkills');
  if (patch.priority !== undefined) rule.priority = patch.priority;
  if (patch.enabled != null) rule.enabled = patch.enabled;
  await em.flush();
  return rule;
}

export async function deleteRoutingRule(em: EntityManager, id: string): Promise<string> {
  const rule = await em.findOne(RoutingRule, { id });
  if (!rule) throw new NotFoundError('the routing rule');
  await em.remove(rule).flush();
  return id;
}

export function listRoutingRules(em: EntityManager): Promise<RoutingRuleEntity[]> {
  return em.find(RoutingRule, {}, { orderBy: { position: 'asc', createdAt: 'asc' } });
}

function checkTeam(team: string | null): string | null {
  if (team && team.length > 100) throw new ValidationError('team must be at most 100 characters', 'team');
  return team;
}
