import type { ModulePart } from '../../../kernel/plugin.ts';
import { privacySchema } from '../schema/privacy.ts';
import { retentionJobs } from './jobs.ts';

/** Consent, GDPR export and erasure, and event retention: one part of the profiles module. */
export const privacyPart: ModulePart = { schema: privacySchema, jobs: retentionJobs };
