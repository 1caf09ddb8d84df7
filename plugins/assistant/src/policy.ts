import { ValidationError } from '@atrium/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AssistantPolicy, type AssistantPolicyEntity } from './entities.ts';

/** What one version of a workspace's governance says. */
export interface Policy {
  version: number;
  tone: string;
  wordsToUse: string[];
  wordsToAvoid: string[];
  allowedCollections: string[];
  blockedTopics: string[];
  handoffTopics: string[];
  disclaimers: string[];
  languages: string[];
  /** Codes of the assistant tools it may offer (plugins register them); empty: none. */
  allowedTools: string[];
}

/** Until an admin writes one: published content only, a neutral voice, no extra rules. */
export const DEFAULT_POLICY: Policy = {
  version: 0,
  tone: 'friendly, clear and concise',
  wordsToUse: [],
  wordsToAvoid: [],
  allowedCollections: ['content'],
  blockedTopics: [],
  handoffTopics: [],
  disclaimers: [],
  languages: [],
  allowedTools: [],
};

export type PolicyInput = Omit<Policy, 'version'>;

function policyOf(row: AssistantPolicyEntity): Policy {
  return {
    version: row.version,
    tone: row.tone,
    wordsToUse: row.wordsToUse,
    wordsToAvoid: row.wordsToAvoid,
    allowedCollections: row.allowedCollections,
    blockedTopics: row.blockedTopics,
    handoffTopics: row.handoffTopics,
    disclaimers: row.disclaimers,
    languages: row.languages,
    allowedTools: row.allowedTools,
  };
}

/** The newest version of the workspace's policy, or the default (version 0). */
export async function currentPolicy(em: EntityManager, workspaceId: string): Promise<Policy> {
  const row = await em.findOne(AssistantPolicy, { workspace: workspaceId }, { orderBy: { version: 'desc' } });
  return row ? policyOf(row) : DEFAULT_POLICY;
}

export async function policyVersions(em: EntityManager, workspaceId: string): Promise<Policy[]> {
  const rows = await em.find(AssistantPolicy, { workspace: workspaceId }, { orderBy: { version: 'desc' } });
  return rows.map(policyOf);
}

const LANGUAGE_TAG = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const COLLECTION = /^[a-z][a-z0-9_-]{0,62}$/;

/** Writes the next version; earlier versions stay as they were (answers name theirs). */
export async function updatePolicy(
  em: EntityManager,
  workspaceId: string,
  input: PolicyInput,
  actor: string | null,
  /** Tool codes the modules registered: a policy cannot allow one that does not exist. */
  registeredTools: ReadonlySet<string>,
): Promise<Policy> {
  const clean = (list: string[], field: string, max = 100) => {
    const items = [...new Set(list.map((s) => s.trim()).filter(Boolean))];
    if (items.length > max) throw new ValidationError(`at most ${max} entries`, field);
    for (const item of items)
      if (item.length > 500) throw new ValidationError('entries have at most 500 characters', field);
    return items;
  };
  const tone = input.tone.trim();
  if (!tone || tone.length > 500) throw new ValidationError('tone must have 1 to 500 characters', 'tone');
  const allowedCollections = clean(input.allowedCollections, 'allowedCollections', 20);
  if (allowedCollections.length === 0)
    throw new ValidationError('name at least one collection answers may come from', 'allowedCollections');
  for (const c of allowedCollections)
    if (!COLLECTION.test(c))
      throw new ValidationError(`"${c}" is not a collection name`, 'allowedCollections');
  const languages = clean(input.languages, 'languages', 50);
  for (const l of languages)
    if (!LANGUAGE_TAG.test(l)) throw new ValidationError(`"${l}" is not a language tag`, 'languages');
  const allowedTools = clean(input.allowedTools, 'allowedTools', 50);
  for (const code of allowedTools)
    if (!registeredTools.has(code))
      throw new ValidationError(`no plugin registers the assistant tool "${code}"`, 'allowedTools');
  const latest = await currentPolicy(em, workspaceId);
  const row = em.create(AssistantPolicy, {
    workspace: workspaceId,
    version: latest.version + 1,
    tone,
    wordsToUse: clean(input.wordsToUse, 'wordsToUse'),
    wordsToAvoid: clean(input.wordsToAvoid, 'wordsToAvoid'),
    allowedCollections,
    blockedTopics: clean(input.blockedTopics, 'blockedTopics'),
    handoffTopics: clean(input.handoffTopics, 'handoffTopics'),
    disclaimers: clean(input.disclaimers, 'disclaimers', 10),
    languages,
    allowedTools,
    createdBy: actor,
  });
  // The unique (workspace, version) makes a concurrent edit fail instead of two "version 3"s.
  await em.flush();
  return policyOf(row);
}
