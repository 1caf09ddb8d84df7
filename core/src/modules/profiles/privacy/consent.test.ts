import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ValidationError } from '../../../kernel/errors.ts';
import { createTestEnvironment, type GraphQLClient, type TestEnvironment } from '../../../testing/index.ts';
import { OutboxEvent } from '../../outbox/entities.ts';
import type { WorkspaceEntity } from '../../workspaces/entities.ts';
import { ConsentChange } from '../entities.ts';
import { assertConsent, ConsentRequiredError, consentOf, hasConsent, setConsent } from './consent.ts';
import { globalId, identity, profileOf, scopedEm } from './test-fixtures.ts';

const SET_CONSENT = `mutation ($input: SetConsentInput!) {
  setConsent(input: $input) {
    __typename
    ... on SetConsentPayload { consent { purpose granted recorded source policyVersion decidedAt } }
    ... on ValidationError { field message }
    ... on NotFoundError { message }
  }
}`;

const CONSENTS = `query ($id: ID!) {
  profile(id: $id) {
    consents { purpose granted recorded source policyVersion }
    consentHistory(first: 10) { edges { node { purpose granted source policyVersion decidedAt } } }
  }
}`;

let env: TestEnvironment;
let demo: WorkspaceEntity;
let other: WorkspaceEntity;
let agent: GraphQLClient;
before(async () => {
  env = await createTestEnvironment();
  demo = await env.workspace('demo');
  other = await env.workspace('other');
  agent = env.adminClient.withToken(env.token('agent'));
});
after(() => env?.destroy());

const consentEvents = (profileId: string) =>
  env
    .em()
    .find(
      OutboxEvent,
      { type: 'consent.changed', subject: profileId },
      { filters: false, orderBy: { occurredAt: 'asc' } },
    );

describe('consent per purpose', () => {
  test('an agent records a stated consent: current state, history and consent.changed together', async () => {
    const profileId = await profileOf(env, demo.id, [identity('email', 'clara@example.com')]);
    const id = globalId('Profile', profileId);
    const input = {
      profileId: id,
      purpose: 'MARKETING_EMAIL',
      granted: true,
      source: 'contact-centre call',
      policyVersion: '2025-01',
    };
    const set = await agent.ok(SET_CONSENT, { input });
    assert.equal(set.setConsent.__typename, 'SetConsentPayload');
    assert.deepEqual(
      { ...set.setConsent.consent, decidedAt: undefined },
      {
        purpose: 'MARKETING_EMAIL',
        granted: true,
        recorded: true,
        source: 'contact-centre call',
        policyVersion: '2025-01',
        decidedAt: undefined,
      },
    );

    const read = await agent.ok(CONSENTS, { id });
    assert.deepEqual(
      read.profile.consents.map((c: { purpose: string; granted: boolean; recorded: boolean }) => [
        c.purpose,
        c.granted,
        c.recorded,
      ]),
      [
        ['MARKETING_EMAIL', true, true],
        ['MARKETING_SMS', false, false],
        ['PERSONALIZATION', false, false],
        ['ANALYTICS', false, false],
        ['AI_MEMORY', false, false],
      ],
    );
    assert.equal(read.profile.consentHistory.edges.length, 1);
    const events = await consentEvents(profileId);
    assert.deepEqual(
      events.map((e) => e.payload),
      [{ profileId, purpose: 'marketing_email', granted: true }],
    );

    // Re-affirming adds history but is no change; withdrawing is.
    await agent.ok(SET_CONSENT, { input: { ...input, policyVersion: '2025-02' } });
    await agent.ok(SET_CONSENT, { input: { ...input, granted: false, source: 'unsubscribe link' } });
    const after = await agent.ok(CONSENTS, { id });
    assert.equal(after.profile.consents[0].granted, false);
    assert.equal(after.profile.consents[0].source, 'unsubscribe link');
    assert.deepEqual(
      after.profile.consentHistory.edges.map((e: { node: { granted: boolean } }) => e.node.granted),
      [false, true, true],
      'history, newest first',
    );
    assert.deepEqual(
      (await consentEvents(profileId)).map((e) => e.payload.granted),
      [true, false],
    );
  });

  test('hasConsent / assertConsent: no answer means not granted; a later answer wins over an older one', async () => {
    const profileId = await profileOf(env, demo.id, [identity('phone', '+41 79 111 22 33')]);
    const em = scopedEm(env, demo.id);
    assert.equal(await hasConsent(em, profileId, 'marketing_sms'), false);
    await assert.rejects(
      assertConsent(em, profileId, 'marketing_sms'),
      (e: ConsentRequiredError) =>
        e instanceof ConsentRequiredError &&
        e.code === 'CONSENT_REQUIRED' &&
        e.purpose === 'marketing_sms' &&
        !e.message.includes(profileId),
    );

    const now = Date.now();
    await setConsent(em, demo.id, {
      profileId,
      purpose: 'marketing_sms',
      granted: true,
      source: 'sms keyword START',
      policyVersion: 'v3',
      decidedAt: new Date(now - 1000),
    });
    assert.equal(await hasConsent(scopedEm(env, demo.id), profileId, 'marketing_sms'), true);
    await assertConsent(scopedEm(env, demo.id), profileId, 'marketing_sms');

    // A decision that arrives late but was made earlier only adds history.
    await setConsent(scopedEm(env, demo.id), demo.id, {
      profileId,
      purpose: 'marketing_sms',
      granted: false,
      source: 'paper form',
      policyVersion: 'v2',
      decidedAt: new Date(now - 60_000),
    });
    const states = await consentOf(scopedEm(env, demo.id), profileId);
    assert.equal(states.find((s) => s.purpose === 'marketing_sms')?.granted, true);
    assert.equal(await scopedEm(env, demo.id).count(ConsentChange, { profile: profileId }), 2);

    // The same profile id seen from another workspace has no consent.
    assert.equal(await hasConsent(scopedEm(env, other.id), profileId, 'marketing_sms'), false);
    await assert.rejects(hasConsent(em, profileId, 'carrier_pigeon'), ValidationError);
  });

  test('bad input gets a clear error and writes nothing', async () => {
    const profileId = await profileOf(env, demo.id, [identity('email', 'dora@example.com')]);
    const input = {
      profileId: globalId('Profile', profileId),
      purpose: 'ANALYTICS',
      granted: true,
      source: 'web form',
      policyVersion: 'v1',
    };
    const unknown = await agent.query(SET_CONSENT, { input: { ...input, purpose: 'CARRIER_PIGEON' } });
    assert.match(unknown.errors?.[0]?.message ?? '', /CARRIER_PIGEON.*ConsentPurpose/);
    const { source: _source, ...noSource } = input;
    const missing = await agent.query(SET_CONSENT, { input: noSource });
    assert.match(missing.errors?.[0]?.message ?? '', /source/);

    const blank = await agent.ok(SET_CONSENT, { input: { ...input, source: '   ' } });
    assert.deepEqual(blank.setConsent, {
      __typename: 'ValidationError',
      field: 'source',
      message: 'source is required',
    });
    const future = await agent.ok(SET_CONSENT, {
      input: { ...input, decidedAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    assert.equal(future.setConsent.field, 'decidedAt');
    await assert.rejects(
      setConsent(scopedEm(env, demo.id), demo.id, { ...input, profileId, purpose: 'carrier_pigeon' }),
      (e: ValidationError) => e instanceof ValidationError && e.field === 'purpose',
    );

    // A profile of another workspace is not found from this one.
    const foreign = await profileOf(env, other.id, [identity('email', 'dora@example.com')]);
    const notFound = await agent.ok(SET_CONSENT, {
      input: { ...input, profileId: globalId('Profile', foreign) },
    });
    assert.equal(notFound.setConsent.__typename, 'NotFoundError');

    const em = env.em();
    assert.equal(
      await em.count(ConsentChange, { profile: { $in: [profileId, foreign] } }, { filters: false }),
      0,
    );
    assert.equal((await consentEvents(profileId)).length + (await consentEvents(foreign)).length, 0);
  });

  test('scopes: viewers and analysts neither read nor record consent', async () => {
    const profileId = await profileOf(env, demo.id, [identity('email', 'emil@example.com')]);
    const input = {
      profileId: globalId('Profile', profileId),
      purpose: 'PERSONALIZATION',
      granted: true,
      source: 'app settings',
      policyVersion: 'v1',
    };
    for (const role of ['viewer', 'analyst'] as const) {
      const client = env.adminClient.withToken(env.token(role));
      const write = await client.query(SET_CONSENT, { input });
      assert.equal(write.errors?.[0]?.extensions?.code, 'FORBIDDEN', role);
      const read = await client.query(CONSENTS, { id: input.profileId });
      assert.equal(read.errors?.[0]?.extensions?.code, 'FORBIDDEN', role);
    }
    const anonymous = await env.adminClient.query(SET_CONSENT, { input });
    assert.equal(anonymous.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    assert.equal(await env.em().count(ConsentChange, { profile: profileId }, { filters: false }), 0);
  });
});
