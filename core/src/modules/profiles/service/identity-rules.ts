import type { EntityManager } from '@mikro-orm/postgresql';
import { ValidationError } from '../../../kernel/errors.ts';
import { IdentityRule, type IdentityType, identityTypes } from '../entities.ts';

export interface IdentityRuleSet {
  /** Lower wins: the profile holding the strongest identity survives a merge. */
  priority: Record<IdentityType, number>;
  maxPerProfile: Record<IdentityType, number>;
}

/** A person has one login id; a few e-mail addresses and phones; many devices. */
export const defaultIdentityRules: IdentityRuleSet = {
  priority: { user_id: 1, email: 2, phone: 3, anonymous_id: 4 },
  maxPerProfile: { user_id: 1, email: 5, phone: 5, anonymous_id: 200 },
};

/** The workspace's rules: its own where it set them, the defaults elsewhere. */
export async function identityRulesOf(em: EntityManager, workspaceId: string): Promise<IdentityRuleSet> {
  const rows = await em.find(IdentityRule, { workspace: workspaceId });
  const rules: IdentityRuleSet = {
    priority: { ...defaultIdentityRules.priority },
    maxPerProfile: { ...defaultIdentityRules.maxPerProfile },
  };
  for (const row of rows) {
    rules.priority[row.type] = row.priority;
    rules.maxPerProfile[row.type] = row.maxPerProfile;
  }
  return rules;
}

export async function setIdentityRule(
  em: EntityManager,
  workspaceId: string,
  input: { type: IdentityType; priority: number; maxPerProfile: number },
): Promise<IdentityRuleSet> {
  if (!identityTypes.includes(input.type)) throw new ValidationError('unknown identity type', 'type');
  if (!Number.isInteger(input.priority) || input.priority < 1 || input.priority > 100) {
    throw new ValidationError('priority must be a whole number from 1 to 100', 'priority');
  }
  if (!Number.isInteger(input.maxPerProfile) || input.maxPerProfile < 1 || input.maxPerProfile > 10000) {
    throw new ValidationError('maxPerProfile must be a whole number from 1 to 10000', 'maxPerProfile');
  }
  const existing = await em.findOne(IdentityRule, { workspace: workspaceId, type: input.type });
  if (existing) {
    existing.priority = input.priority;
    existing.maxPerProfile = input.maxPerProfile;
  } else {
    em.create(IdentityRule, { workspace: workspaceId, ...input });
  }
  await em.flush();
  return identityRulesOf(em, workspaceId);
}
