import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WORKSPACE_FILTER } from '../../db/orm.ts';
import { sql } from '../../db/sql.ts';
import { createTestEnvironment, type TestEnvironment } from '../../testing/index.ts';
import { defaultIdentityRules } from '../profiles/service/identity-rules.ts';
import { resolveProfiles } from '../profiles/service/resolution.ts';
import { CustomerSession } from './entities.ts';
import { identifyCustomerSession, openCustomerSession } from './service.ts';

const VIEWER = '{ viewer { subject kind scopes workspace { slug } } }';
const END = 'mutation { endCustomerSession { endedAt } }';
const ERASE = `mutation ($id: ID!) {
  eraseProfile(input: { profileId: $id, reason: "asked by the customer" }) {
    __typename ... on EraseProfilePayload { erasure { removed } } ... on Error { message }
  }
}`;

let env: TestEnvironment;
let demoId: string;

before(async () => {
  env = await createTestEnvironment();
  demoId = (await env.workspace('demo')).id;
});
after(() => env?.destroy());

async function open(anonymousId: string | null = null, ttlHours = 24) {
  return env.atrium.orm.em.fork().transactional((em) => {
    em.setFilterParams(WORKSPACE_FILTER, { id: demoId });
    return openCustomerSession(em, { workspaceId: demoId, anonymousId, issuedBy: 'test', ttlHours });
  });
}

async function profileWith(type: 'user_id' | 'anonymous_id', value: string): Promise<string> {
  const resolution = await env.atrium.orm.em
    .fork()
    .transactional((em) =>
      resolveProfiles(
        em,
        demoId,
        [{ keys: [{ type, value }], at: new Date(), source: 'test' }],
        defaultIdentityRules,
      ),
    );
  return resolution.profileIds[0] as string;
}

describe('customer sessions', () => {
  test('a session token is a customer on the Public graph, with only the customer scope', async () => {
    const { token, session } = await open();
    assert.match(token, /^cst_[A-Za-z0-9_-]{43}$/);
    const stored = await env.em().findOneOrFail(CustomerSession, { id: session.id }, { filters: false });
    assert.notEqual(stored.tokenHash, token, 'only a hash is stored');
    const data = await env.publicClient.withToken(token).ok(VIEWER);
    assert.deepEqual(data.viewer, {
      subject: `customer-session:${session.id}`,
      kind: 'customer',
      scopes: ['customer'],
      workspace: { slug: 'demo' },
    });
  });

  test('a session token is refused on the Admin graph; staff tokens never hold the customer scope', async () => {
    const { token } = await open();
    const refused = await env.adminClient.withToken(token).query(VIEWER);
    assert.equal(refused.status, 403);
    assert.equal(refused.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const admin = await env.publicClient.withToken(env.token('admin')).ok(VIEWER);
    assert.ok(!admin.viewer.scopes.includes('customer'));
    const staffLogout = await env.publicClient.withToken(env.token('admin')).query(END);
    assert.equal(staffLogout.errors?.[0]?.extensions?.code, 'FORBIDDEN');
  });

  test('logout ends the session at once; an expired or unknown token is a 401 that says why', async () => {
    const { token } = await open();
    const client = env.publicClient.withToken(token);
    await client.ok(END);
    const ended = await client.query(VIEWER);
    assert.equal(ended.status, 401);
    assert.match(ended.errors?.[0]?.message ?? '', /invalid customer session \(ended\)/);

    const expiring = await open();
    await env
      .em()
      .nativeUpdate(
        CustomerSession,
        { id: expiring.session.id },
        { expiresAt: new Date(Date.now() - 1000) },
        { filters: false },
      );
    const expired = await env.publicClient.withToken(expiring.token).query(VIEWER);
    assert.equal(expired.status, 401);
    assert.match(expired.errors?.[0]?.message ?? '', /\(expired\)/);

    const unknown = await env.publicClient.withToken(`cst_${'x'.repeat(43)}`).query(VIEWER);
    assert.equal(unknown.status, 401);
    assert.match(unknown.errors?.[0]?.message ?? '', /\(unknown\)/);
  });

  test('an anonymous id that belongs to a known person is not enough to act as them', async () => {
    const anonymousId = `anon-${crypto.randomUUID()}`;
    const known = await profileWith('user_id', `user-${crypto.randomUUID()}`);
    await env.atrium.orm.em
      .fork()
      .transactional((em) =>
        sql(
          em,
          `insert into identity (id, workspace_id, profile_id, type, value, created_at) values (gen_random_uuid(), $1, $2, 'anonymous_id', $3, now())`,
          [demoId, known, anonymousId],
        ),
      );
    const opened = await open(anonymousId);
    assert.equal(opened.anonymousIdIgnored, true);
    assert.notEqual(opened.anonymousId, anonymousId);
    assert.notEqual(opened.session.profileId, known);

    const fresh = `anon-${crypto.randomUUID()}`;
    const unknownYet = await open(fresh);
    assert.equal(unknownYet.anonymousIdIgnored, false);
    assert.equal(unknownYet.anonymousId, fresh);
  });

  test('identify merges the anonymous profile into the known one; the session and its other tabs follow', async () => {
    const userId = `user-${crypto.randomUUID()}`;
    const known = await profileWith('user_id', userId);
    const tab1 = await open();
    const anonymousProfile = tab1.session.profileId;
    // A second tab with the same anonymous id: the same profile.
    const tab2 = await open(tab1.anonymousId);
    assert.equal(tab2.session.profileId, anonymousProfile);

    const identified = await env.atrium.orm.em.fork().transactional((em) => {
      em.setFilterParams(WORKSPACE_FILTER, { id: demoId });
      return identifyCustomerSession(em, tab1.session.id, { type: 'user_id', value: userId });
    });
    assert.equal(identified.profileId, known);
    assert.deepEqual(identified.mergedProfileIds, [anonymousProfile]);
    const rows = await env.em().find(
      CustomerSession,
      { id: { $in: [tab1.session.id, tab2.session.id] } },
      {
        filters: false,
      },
    );
    assert.deepEqual(
      rows.map((r) => r.profileId),
      [known, known],
    );

    // Another user in the same session is refused: logout first.
    await assert.rejects(
      env.atrium.orm.em.fork().transactional((em) => {
        em.setFilterParams(WORKSPACE_FILTER, { id: demoId });
        return identifyCustomerSession(em, tab1.session.id, { type: 'user_id', value: 'someone-else-1' });
      }),
      { code: 'SESSION_IDENTITY_CONFLICT' },
    );
  });

  test('a profile merged elsewhere is followed when the token is next used', async () => {
    const session = await open();
    const userId = `user-${crypto.randomUUID()}`;
    const known = await profileWith('user_id', userId);
    // The shop's own tracking joins the anonymous id to the user: a merge this session did not cause.
    await env.atrium.orm.em.fork().transactional((em) =>
      resolveProfiles(
        em,
        demoId,
        [
          {
            keys: [
              { type: 'anonymous_id', value: session.anonymousId },
              { type: 'user_id', value: userId },
            ],
            at: new Date(),
            source: 'identify call',
          },
        ],
        defaultIdentityRules,
      ),
    );
    await env.publicClient.withToken(session.token).ok(VIEWER);
    const row = await env.em().findOneOrFail(CustomerSession, { id: session.session.id }, { filters: false });
    assert.equal(row.profileId, known);
  });

  test('erasing the profile erases its sessions, and their tokens stop working', async () => {
    const { token, session } = await open();
    const profileId = Buffer.from(`Profile:${session.profileId}`).toString('base64');
    const erased = await env.adminClient.withToken(env.token('admin')).ok(ERASE, { id: profileId });
    assert.equal(erased.eraseProfile.__typename, 'EraseProfilePayload', JSON.stringify(erased));
    assert.equal(erased.eraseProfile.erasure.removed['customer-sessions'], 1);
    assert.equal(await env.em().count(CustomerSession, { id: session.id }, { filters: false }), 0);
    const refused = await env.publicClient.withToken(token).query(VIEWER);
    assert.equal(refused.status, 401);
  });
});
