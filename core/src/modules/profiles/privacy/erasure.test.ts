import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Migration } from '@mikro-orm/migrations';
import { defineEntity, p } from '@mikro-orm/postgresql';
import { idColumn } from '../../../db/columns.ts';
import { sql } from '../../../db/sql.ts';
import type { DomainEvent } from '../../../kernel/events.ts';
import { definePlugin } from '../../../kernel/plugin.ts';
import {
  createTestEnvironment,
  type GraphQLClient,
  sweepForPersonalData,
  type TestEnvironment,
  waitFor,
} from '../../../testing/index.ts';
import { EventDelivery, OutboxEvent } from '../../outbox/entities.ts';
import { belongsToWorkspace, type WorkspaceEntity } from '../../workspaces/entities.ts';
import { ErasureRecord, Event, Profile } from '../entities.ts';
import { setProfileTraits } from '../service/profiles.ts';
import { globalId, identity, insertEvents, profileOf, scopedEm } from './test-fixtures.ts';

/** A plugin that keeps its own rows keyed by profile id, queues jobs about profiles, and hears erasures. */
const KeeperNote = defineEntity({
  name: 'KeeperNote',
  tableName: 'keeper_note',
  properties: { id: idColumn(), workspace: belongsToWorkspace, profileId: p.uuid(), note: p.text() },
});
class KeeperInit extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'create table "keeper_note" ("id" uuid not null, "workspace_id" uuid not null references "workspace" ("id"), "profile_id" uuid not null, "note" text not null, primary key ("id"));',
    );
  }
}
const erasedEvents: DomainEvent[] = [];
const keeperPlugin = definePlugin(() => ({
  name: 'keeper',
  compatibility: '^1.0.0',
  entities: [KeeperNote],
  migrations: [{ name: 'keeper-0001-init', class: KeeperInit }],
  events: [
    {
      on: 'consent.changed',
      name: 'note',
      handle: async (event, ctx) => {
        ctx.em.create(KeeperNote, {
          workspace: event.workspaceId,
          profileId: String(event.payload.profileId),
          note: `consent ${String(event.payload.purpose)}`,
        });
      },
    },
    { on: 'profile.erased', name: 'erased', handle: async (event) => void erasedEvents.push(event) },
  ],
  jobs: { 'keeper.remind': { retryLimit: 0, handle: async () => {} } },
  exportProfile: async (_profileId, ctx) => ({
    notes: (await ctx.em.find(KeeperNote, { profileId: { $in: ctx.profileIds } })).map((n) => n.note),
  }),
  eraseProfile: (_profileId, ctx) =>
    ctx.em.nativeDelete(KeeperNote, { workspace: ctx.workspaceId, profileId: { $in: ctx.profileIds } }),
}));

const EXPORT = `mutation ($id: ID!) {
  exportProfile(input: { profileId: $id }) {
    __typename
    ... on ExportProfilePayload { document }
    ... on NotFoundError { message }
  }
}`;
const ERASE = `mutation ($id: ID!, $reason: String) {
  eraseProfile(input: { profileId: $id, reason: $reason }) {
    __typename
    ... on EraseProfilePayload { erasure { id requestedBy reason removed erasedAt } }
    ... on ValidationError { field message }
    ... on NotFoundError { message }
  }
}`;
const SET_CONSENT = `mutation ($id: ID!) {
  setConsent(input: { profileId: $id, purpose: MARKETING_EMAIL, granted: true, source: "web form", policyVersion: "v1" }) { __typename }
}`;

const EMAIL = 'Ermengild.Erase@Example.com';
const PHONE = '+41 79 555 01 01';
const USER_ID = 'user-ermengild-0001';
const ANON_ID = 'anon-ermengild-0001';
const TABLET_ANON_ID = 'anon-ermengild-tablet';
const FIRST_NAME = 'Ermengild';

describe('GDPR export and erasure', () => {
  let env: TestEnvironment;
  let demo: WorkspaceEntity;
  let admin: GraphQLClient;
  let agent: GraphQLClient;
  let profileId: string;
  let tabletProfileId: string;
  let bystanderId: string;
  let needles: string[];

  before(async () => {
    env = await createTestEnvironment({ plugins: [keeperPlugin()] });
    demo = await env.workspace('demo');
    admin = env.adminClient.withToken(env.token('admin'));
    agent = env.adminClient.withToken(env.token('agent'));

    // A phone visit, a login with every identity, then a tablet visit that logs in: two profiles merged.
    profileId = await profileOf(
      env,
      demo.id,
      [identity('anonymous_id', ANON_ID)],
      [
        identity('anonymous_id', ANON_ID),
        identity('user_id', USER_ID),
        identity('email', EMAIL),
        identity('phone', PHONE),
      ],
    );
    tabletProfileId = await profileOf(env, demo.id, [identity('anonymous_id', TABLET_ANON_ID)]);
    assert.equal(
      await profileOf(env, demo.id, [identity('anonymous_id', TABLET_ANON_ID), identity('user_id', USER_ID)]),
      profileId,
    );
    bystanderId = await profileOf(env, demo.id, [identity('email', 'bystander@example.com')]);
    needles = [
      profileId,
      tabletProfileId,
      EMAIL,
      '+41795550101',
      USER_ID,
      ANON_ID,
      TABLET_ANON_ID,
      FIRST_NAME,
    ];

    await setProfileTraits(scopedEm(env, demo.id), demo.id, profileId, {
      firstName: FIRST_NAME,
      email: EMAIL,
    });
    await insertEvents(env, demo.id, profileId, [
      { type: 'identify', userId: USER_ID, anonymousId: ANON_ID, traits: { email: EMAIL, phone: PHONE } },
      { name: 'Order Completed', userId: USER_ID, properties: { total: 120 } },
      { type: 'page', name: 'Home', anonymousId: TABLET_ANON_ID, daysAgo: 3 },
    ]);
    await insertEvents(env, demo.id, bystanderId, [{ name: 'Order Completed' }]);
    await agent.ok(SET_CONSENT, { id: globalId('Profile', profileId) });
    await agent.ok(SET_CONSENT, { id: globalId('Profile', bystanderId) });
    const em = env.em();
    const [segment] = await sql<{ id: string }>(
      em,
      `insert into segment (id, workspace_id, key, name, condition, status, computed_profiles, total_profiles, created_at, updated_at)
       values (gen_random_uuid(), $1, 'vip', 'VIPs', '{}', 'active', 0, 0, now(), now()) returning id`,
      [demo.id],
    );
    for (const member of [profileId, bystanderId]) {
      await sql(
        em,
        `insert into segment_membership (id, workspace_id, segment_id, profile_id, entered_at)
         values (gen_random_uuid(), $1, $2, $3, now())`,
        [demo.id, segment?.id, member],
      );
    }
    // A reminder queued for tomorrow, and one that already ran and stays in pg-boss's history.
    await env.atrium.jobs.send(
      'keeper.remind',
      { profileId },
      { startAfter: new Date(Date.now() + 86_400_000) },
    );
    await env.atrium.jobs.send('keeper.remind', { profileId });
    await waitFor(
      async () =>
        (await sql(env.em(), `select 1 from pgboss.job where name = 'keeper.remind' and state = 'completed'`))
          .length === 1,
      15000,
      'the reminder to run',
    );
    await waitFor(
      async () => (await env.em().count(KeeperNote, {}, { filters: false })) === 2,
      15000,
      'the keeper plugin to note both consents',
    );
    await waitFor(
      async () =>
        (await env.em().count(EventDelivery, { status: { $ne: 'succeeded' } }, { filters: false })) === 0,
      15000,
      'every outbox delivery to finish',
    );
  });
  after(() => env?.destroy());

  test('the export holds every section, what plugins add, and an audit event without personal data', async () => {
    const forbidden = await agent.query(EXPORT, { id: globalId('Profile', profileId) });
    assert.equal(forbidden.errors?.[0]?.extensions?.code, 'FORBIDDEN');

    const { exportProfile } = await admin.ok(EXPORT, { id: globalId('Profile', profileId) });
    assert.equal(exportProfile.__typename, 'ExportProfilePayload');
    const doc = exportProfile.document;
    assert.equal(doc.format, 'atrium.profile-export/1');
    assert.equal(doc.profile.id, profileId);
    assert.equal(doc.profile.traits.firstName, FIRST_NAME);
    assert.deepEqual(
      doc.identities.map((i: { type: string; value: string }) => `${i.type}:${i.value}`),
      [
        `anonymous_id:${ANON_ID}`,
        `anonymous_id:${TABLET_ANON_ID}`,
        'email:ermengild.erase@example.com',
        'phone:+41795550101',
        `user_id:${USER_ID}`,
      ],
    );
    assert.equal(doc.events.length, 3);
    assert.equal(doc.events[0].type, 'page', 'oldest first');
    assert.deepEqual(
      doc.consents.map((c: { purpose: string; granted: boolean }) => [c.purpose, c.granted]),
      [['marketing_email', true]],
    );
    assert.equal(doc.consentHistory.length, 1);
    assert.deepEqual(
      doc.segments.map((s: { key: string }) => s.key),
      ['vip'],
    );
    assert.deepEqual(
      doc.merges.map((m: { mergedProfileId: string }) => m.mergedProfileId),
      [tabletProfileId],
    );
    // Every module with an export hook has its section; core modules' ones are tested beside them.
    assert.deepEqual(doc.modules.keeper, { notes: ['consent marketing_email'] });
    assert.deepEqual(doc.modules.conversations, { conversations: [] });

    const audit = await env.em().findOneOrFail(OutboxEvent, { type: 'profile.exported' }, { filters: false });
    assert.equal(audit.subject, null);
    assert.equal((audit.payload.counts as { events: number }).events, 3);
    const auditText = JSON.stringify(audit).toLowerCase();
    for (const needle of needles) assert.ok(!auditText.includes(needle.toLowerCase()), needle);

    const notFound = await admin.ok(EXPORT, { id: globalId('Profile', crypto.randomUUID()) });
    assert.equal(notFound.exportProfile.__typename, 'NotFoundError');
  });

  test('refused erasures change nothing: an agent, another workspace, a reason that names the person', async () => {
    const before = await env.em().count(Event, {}, { filters: false });
    const id = globalId('Profile', profileId);
    const forbidden = await agent.query(ERASE, { id });
    assert.equal(forbidden.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const otherAdmin = env.adminClient.withToken(env.token('admin', 'other'));
    const foreign = await otherAdmin.ok(ERASE, { id });
    assert.equal(foreign.eraseProfile.__typename, 'NotFoundError');
    const naming = await admin.ok(ERASE, { id, reason: `asked by ${EMAIL.toLowerCase()}` });
    assert.equal(naming.eraseProfile.__typename, 'ValidationError');
    assert.equal(naming.eraseProfile.field, 'reason');

    assert.equal(await env.em().count(Event, {}, { filters: false }), before);
    assert.equal(await env.em().count(Profile, { id: profileId }, { filters: false }), 1);
    assert.equal(await env.em().count(ErasureRecord, {}, { filters: false }), 0);
  });

  test('erasure leaves no trace of the person in any table, keeps a tombstone and tells plugins', async () => {
    const swept = await sweepForPersonalData(env.databaseUrl, needles);
    assert.ok(swept.hits.length > 10, 'the person is in many stores before');

    const { eraseProfile } = await admin.ok(ERASE, {
      id: globalId('Profile', profileId),
      reason: 'GDPR art. 17 request, ticket 4711',
    });
    assert.equal(eraseProfile.__typename, 'EraseProfilePayload', JSON.stringify(eraseProfile));
    const { erasure } = eraseProfile;
    assert.equal(erasure.reason, 'GDPR art. 17 request, ticket 4711');
    assert.equal(erasure.requestedBy.length > 0, true);
    const removed = erasure.removed as Record<string, number>;
    assert.deepEqual(
      {
        profile: removed.profile,
        identity: removed.identity,
        event: removed.event,
        consent: removed.consent,
        consent_change: removed.consent_change,
        segment_membership: removed.segment_membership,
        profile_merge: removed.profile_merge,
        job: removed.job,
        keeper: removed.keeper,
      },
      {
        profile: 1,
        identity: 5,
        event: 3,
        consent: 1,
        consent_change: 1,
        segment_membership: 1,
        profile_merge: 1,
        job: 2,
        keeper: 1,
      },
    );
    // profile.merged, profile.traits-changed, consent.changed, each with its deliveries.
    assert.ok((removed.outbox_event ?? 0) >= 3, JSON.stringify(removed));
    assert.ok((removed.event_delivery ?? 0) >= 1, JSON.stringify(removed));

    const { tables, hits } = await sweepForPersonalData(env.databaseUrl, needles);
    assert.deepEqual(hits, []);
    for (const table of [
      'public.profile',
      'public.identity',
      'public.event',
      'public.consent',
      'public.consent_change',
      'public.segment_membership',
      'public.profile_merge',
      'public.outbox_event',
      'public.event_delivery',
      'public.erasure_record',
      'public.keeper_note',
      'pgboss.job',
    ]) {
      assert.ok(tables.includes(table), `the sweep covers ${table}`);
    }

    // The bystander keeps everything.
    const em = env.em();
    assert.equal(await em.count(Profile, { id: bystanderId }, { filters: false }), 1);
    assert.equal(await em.count(Event, { profile: bystanderId }, { filters: false }), 1);
    assert.equal(await em.count(KeeperNote, { profileId: bystanderId }, { filters: false }), 1);

    // Plugins hear of it after commit, by the tombstone's id only.
    const heard = await waitFor(() => erasedEvents[0], 15000, 'profile.erased to reach the plugin');
    const recordId = Buffer.from(erasure.id, 'base64').toString('utf8').split(':')[1];
    assert.equal(heard.subject, recordId);
    assert.deepEqual(heard.payload, { erasureId: recordId, removed });
    await waitFor(
      async () =>
        (await env.em().count(EventDelivery, { status: { $ne: 'succeeded' } }, { filters: false })) === 0,
      15000,
      'the profile.erased deliveries',
    );
    assert.deepEqual((await sweepForPersonalData(env.databaseUrl, needles)).hits, []);

    const records = await admin.ok('{ erasureRecords(first: 5) { edges { node { id reason removed } } } }');
    assert.equal(records.erasureRecords.edges[0].node.id, erasure.id);
    const again = await admin.ok(ERASE, { id: globalId('Profile', profileId) });
    assert.equal(again.eraseProfile.__typename, 'NotFoundError');
  });
});
