import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../../../db/sql.ts';
import { AtriumError, NotFoundError, ValidationError } from '../../../kernel/errors.ts';
import { recordEvent } from '../../../kernel/events.ts';
import {
  Consent,
  ConsentChange,
  type ConsentChangeEntity,
  type ConsentEntity,
  type ConsentPurpose,
  consentPurposes,
} from '../entities.ts';

/**
 * What a purpose counts as when the person never answered: not granted, for every purpose.
 * Privacy by default (GDPR art. 25): marketing, personalisation, analytics and the assistant's
 * memory all need an explicit yes before anything relies on them.
 */
export const consentDefaults: Readonly<Record<ConsentPurpose, boolean>> = Object.freeze({
  marketing_email: false,
  marketing_sms: false,
  personalization: false,
  analytics: false,
  ai_memory: false,
});

/** Thrown by `assertConsent`: a send or use the person did not agree to. Names no personal data. */
export class ConsentRequiredError extends AtriumError {
  readonly profileId: string;
  readonly purpose: ConsentPurpose;
  constructor(profileId: string, purpose: ConsentPurpose) {
    super('CONSENT_REQUIRED', `the profile has not granted consent for ${purpose}`);
    this.profileId = profileId;
    this.purpose = purpose;
  }
}

export interface ConsentDecision {
  profileId: string;
  purpose: string;
  granted: boolean;
  /** Where the answer came from: "web-form", "contact-centre", "double-opt-in", … */
  source: string;
  policyVersion: string;
  /** When the person decided; defaults to now. A decision older than the current one only adds history. */
  decidedAt?: Date | null;
}

/** One purpose's effective answer: what was recorded, or the default when nothing was. */
export interface ConsentState {
  purpose: ConsentPurpose;
  granted: boolean;
  /** False when the person never answered and `granted` is the default. */
  recorded: boolean;
  source: string | null;
  policyVersion: string | null;
  decidedAt: Date | null;
}

/** Clock skew we tolerate on a client-reported decision time. */
const FUTURE_SKEW_MS = 5 * 60 * 1000;

export function checkPurpose(purpose: string, field = 'purpose'): ConsentPurpose {
  if (!(consentPurposes as readonly string[]).includes(purpose)) {
    throw new ValidationError(
      `unknown consent purpose "${purpose}"; known purposes: ${consentPurposes.join(', ')}`,
      field,
    );
  }
  return purpose as ConsentPurpose;
}

function checkText(value: string | null | undefined, field: string, max: number): string {
  const text = value?.trim() ?? '';
  if (!text) throw new ValidationError(`${field} is required`, field);
  if (text.length > max) throw new ValidationError(`${field} must be at most ${max} characters`, field);
  return text;
}

/**
 * Records a consent decision in one transaction: the history row always, the current state
 * when the decision is the latest for its purpose, and `consent.changed` when the answer for
 * the purpose changed (a first answer, or granted ↔ denied).
 */
export async function setConsent(
  em: EntityManager,
  workspaceId: string,
  decision: ConsentDecision,
): Promise<ConsentState> {
  const purpose = checkPurpose(decision.purpose);
  const source = checkText(decision.source, 'source', 100);
  const policyVersion = checkText(decision.policyVersion, 'policyVersion', 50);
  const decidedAt = decision.decidedAt ?? new Date();
  if (Number.isNaN(decidedAt.getTime())) throw new ValidationError('decidedAt is not a time', 'decidedAt');
  if (decidedAt.getTime() > Date.now() + FUTURE_SKEW_MS) {
    throw new ValidationError('decidedAt must not be in the future', 'decidedAt');
  }

  return em.transactional(async (tem) => {
    // Serialises decisions (and erasure, merges) on this profile without blocking its event inserts.
    const [profile] = await sql(
      tem,
      'select id from profile where workspace_id = $1 and id = $2 for no key update',
      [workspaceId, decision.profileId],
    );
    if (!profile) throw new NotFoundError('Profile');
    const common = {
      workspace: workspaceId,
      profile: decision.profileId,
      purpose,
      granted: decision.granted,
      source,
      policyVersion,
      decidedAt,
    };
    tem.create(ConsentChange, common);
    const current = await tem.findOne(
      Consent,
      { workspace: workspaceId, profile: decision.profileId, purpose },
      { filters: false },
    );
    if (!current) {
      tem.create(Consent, common);
    } else if (current.decidedAt <= decidedAt) {
      const changed = current.granted !== decision.granted;
      Object.assign(current, { granted: decision.granted, source, policyVersion, decidedAt });
      if (!changed) return stateOf(purpose, current);
    } else {
      return stateOf(purpose, current);
    }
    recordEvent(tem, {
      type: 'consent.changed',
      workspaceId,
      subject: decision.profileId,
      payload: { profileId: decision.profileId, purpose, granted: decision.granted },
    });
    return stateOf(purpose, { granted: decision.granted, source, policyVersion, decidedAt });
  });
}

function stateOf(
  purpose: ConsentPurpose,
  row: Pick<ConsentEntity, 'granted' | 'source' | 'policyVersion' | 'decidedAt'> | undefined,
): ConsentState {
  if (!row) {
    return {
      purpose,
      granted: consentDefaults[purpose],
      recorded: false,
      source: null,
      policyVersion: null,
      decidedAt: null,
    };
  }
  return {
    purpose,
    granted: row.granted,
    recorded: true,
    source: row.source,
    policyVersion: row.policyVersion,
    decidedAt: row.decidedAt,
  };
}

/** Every purpose's effective answer for a profile, in the order of `consentPurposes`. */
export async function consentOf(em: EntityManager, profileId: string): Promise<ConsentState[]> {
  const rows = await em.find(Consent, { profile: profileId });
  return consentPurposes.map((purpose) =>
    stateOf(
      purpose,
      rows.find((r) => r.purpose === purpose),
    ),
  );
}

/** Every decision ever recorded, newest first. */
export function consentHistoryOf(
  em: EntityManager,
  profileId: string,
  page: { limit: number; offset: number },
): Promise<ConsentChangeEntity[]> {
  return em.find(
    ConsentChange,
    { profile: profileId },
    { orderBy: { decidedAt: 'desc', id: 'desc' }, limit: page.limit, offset: page.offset },
  );
}

/**
 * True when the profile granted `purpose`; the default (`consentDefaults`, never granted) when
 * it never answered. Reads through `em`'s workspace filter, so a profile of another workspace
 * counts as not granted.
 */
export async function hasConsent(em: EntityManager, profileId: string, purpose: string): Promise<boolean> {
  const checked = checkPurpose(purpose);
  const row = await em.findOne(Consent, { profile: profileId, purpose: checked });
  return row ? row.granted : consentDefaults[checked];
}

/**
 * The check journeys and channels make before every send or use: throws `ConsentRequiredError`
 * unless the profile granted `purpose`.
 */
export async function assertConsent(em: EntityManager, profileId: string, purpose: string): Promise<void> {
  if (!(await hasConsent(em, profileId, purpose))) {
    throw new ConsentRequiredError(profileId, purpose as ConsentPurpose);
  }
}
