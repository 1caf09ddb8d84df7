import { composeParts, defineModule } from '../../kernel/plugin.ts';
import {
  ComputedTraitDefinition,
  Consent,
  ConsentChange,
  ErasureRecord,
  Event,
  Identity,
  IdentityRule,
  Profile,
  ProfileMerge,
  RetentionPolicy,
  Segment,
  SegmentMembership,
  TraitDefinition,
  WriteKey,
} from './entities.ts';
import { ingestionPart } from './ingestion.ts';
import { privacyPart } from './privacy/index.ts';
import { profilesSchema } from './schema/profiles.ts';
import { segmentsPart } from './segments/index.ts';

/** The customer data platform: profiles, identities, events, consent, segments, GDPR. */
export const profilesModule = defineModule({
  name: 'profiles',
  entities: [
    Profile,
    Identity,
    IdentityRule,
    Event,
    Consent,
    ConsentChange,
    ProfileMerge,
    WriteKey,
    TraitDefinition,
    ComputedTraitDefinition,
    Segment,
    SegmentMembership,
    RetentionPolicy,
    ErasureRecord,
  ],
  // Each concern adds its part: one line here per part.
  ...composeParts([{ schema: profilesSchema }, ingestionPart, privacyPart, segmentsPart]),
});
