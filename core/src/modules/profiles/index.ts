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
import { privacyPart } from './privacy/index.ts';
import { ingestionRoutes } from './routes/ingestion.ts';
import { profilesSchema } from './schema/profiles.ts';
import { writeKeysSchema } from './schema/write-keys.ts';
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
  // One part per concern: profiles and merges, ingestion (write keys, tracking API), privacy, segments.
  ...composeParts([
    { schema: profilesSchema },
    { schema: writeKeysSchema, routes: ingestionRoutes },
    privacyPart,
    segmentsPart,
  ]),
});
