import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from '../../db/sql.ts';
import { createTestEnvironment, type TestEnvironment } from '../../testing/index.ts';
import { defaultIdentityRules } from '../profiles/service/identity-rules.ts';
import { resolveProfiles } from '../profiles/service/resolution.ts';
import { cleanUpAuditLog, recordAudit } from './service.ts';

const ENTRIES = `query ($filter: AuditEntryFilter) {
  auditEntries(first: 100, filter: $filter) {
    edges { node { actorKind actorSubject action targets { type id } details requestId occurredAt } }
  }
}`;
const CREATE_KEY = `mutation { createApiKey(input: { name: "Jane Doe's laptop", role: EDITOR }) {
  ... on CreateApiKeyPayload { secret apiKey { id } }
} }`;

let env: TestEnvironment;
let demoId: string;

before(async () => {
  env = await createTestEnvironment();
  demoId = (await env.workspace('demo')).id;
});
after(() => env?.destroy());

const admin = () => env.adminClient.withToken(env.token('admin'));
const decode = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1] as string;

async function entries(filter: Record<string, unknown> = {}, token = env.token('admin')) {
  const data = await env.adminClient.withToken(token).ok(ENTRIES, { filter });
  return data.auditEntries.edges.map((e: { node: unknown }) => e.node) as {
    actorKind: string;
    actorSubject: string;
    action: string;
    targets: { type: string; id: string }[];
    details: Record<string, any>;
    requestId: string | null;
  }[];
}

describe('audit log', () => {
  test('a successful Admin mutation records who, what and which record; free text and secrets are not kept', async () => {
    const created = await admin().withHeaders({ 'x-request-id': 'audit-test-1' }).ok(CREATE_KEY);
    const keyId = decode(created.createApiKey.apiKey.id);
    const [entry] = await entries({ action: 'mutation.createApiKey' });
    assert.ok(entry);
    assert.equal(entry.actorKind, 'dev');
    assert.equal(entry.actorSubject, 'dev-admin');
    assert.equal(entry.requestId, 'audit-test-1');
    assert.deepEqual(entry.targets, [{ type: 'ApiKey', id: keyId }]);
    assert.deepEqual(entry.details, { input: { name: '[redacted]', role: 'editor' } });
    const stored = await sql(env.em(), 'select * from audit_entry');
    assert.doesNotMatch(JSON.stringify(stored), /atk_|Jane Doe/, 'no secret, no free text');

    await admin().ok(
      `mutation { revokeApiKey(input: { id: "${created.createApiKey.apiKey.id}" }) { __typename } }`,
    );
    const revoked = await entries({ targetId: keyId });
    assert.deepEqual(
      revoked.map((e) => e.action),
      ['mutation.revokeApiKey', 'mutation.createApiKey'],
      'filtering by record shows its history, newest first',
    );
  });

  test('refused and failed mutations leave no entry', async () => {
    const before = (await entries()).length;
    const refused = await env.adminClient.withToken(env.token('viewer')).query(CREATE_KEY);
    assert.equal(refused.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const unknown = Buffer.from('ApiKey:00000000-0000-4000-8000-000000000000').toString('base64');
    const notFound = await admin().ok(
      `mutation { revokeApiKey(input: { id: "${unknown}" }) { __typename } }`,
    );
    assert.equal(notFound.revokeApiKey.__typename, 'NotFoundError');
    assert.equal((await entries()).length, before);
  });

  test('GDPR operations are recorded with the profile as target', async () => {
    const resolution = await env.atrium.orm.em
      .fork()
      .transactional((em) =>
        resolveProfiles(
          em,
          demoId,
          [{ keys: [{ type: 'email', value: 'erase-me@example.com' }], at: new Date(), source: 'test' }],
          defaultIdentityRules,
        ),
      );
    const profileId = resolution.profileIds[0] as string;
    const globalId = Buffer.from(`Profile:${profileId}`).toString('base64');
    await admin().ok(`mutation { exportProfile(input: { profileId: "${globalId}" }) { __typename } }`);
    const erased = await admin().ok(
      `mutation { eraseProfile(input: { profileId: "${globalId}", reason: "asked by the customer by letter" }) { __typename ... on Error { message } } }`,
    );
    assert.equal(erased.eraseProfile.__typename, 'EraseProfilePayload', JSON.stringify(erased));
    // Erasure forgets whom the entries were about, not what was done.
    assert.deepEqual(await entries({ targetId: profileId }), []);
    const history = await entries({ targetId: 'erased' });
    assert.deepEqual(
      history.map((e) => [
        e.action,
        e.targets.map((t) => (t.type === 'ErasureRecord' ? t.type : `${t.type}:${t.id}`)),
      ]),
      [
        ['mutation.eraseProfile', ['Profile:erased', 'ErasureRecord']],
        ['mutation.exportProfile', ['Profile:erased']],
      ],
      'the erasure entry points at the tombstone',
    );
    assert.deepEqual(history[0]?.details.input, { profileId: '[Profile]', reason: '[redacted]' });
    const stored = JSON.stringify(await sql(env.em(), 'select * from audit_entry'));
    assert.doesNotMatch(stored, /erase-me/, 'the audit log keeps no personal data');
    assert.ok(!stored.includes(profileId), "erasure replaced the profile's id");
  });

  test('explicit records for what is not a mutation (e.g. an AI decision), on the caller transaction', async () => {
    await env.atrium.orm.em.fork().transactional((em) =>
      recordAudit(em, {
        workspaceId: demoId,
        actor: { kind: 'system', subject: 'assistant' },
        action: 'ai.answer',
        targets: [{ type: 'Conversation', id: '00000000-0000-4000-8000-0000000000a1' }],
        details: { decision: 'handoff', sources: 2 },
      }),
    );
    await assert.rejects(
      env.atrium.orm.em.fork().transactional(async (em) => {
        await recordAudit(em, {
          workspaceId: demoId,
          actor: { kind: 'system', subject: 'x' },
          action: 'ai.rolledBack',
        });
        throw new Error('the action failed');
      }),
    );
    const ai = await entries({ action: 'ai.' });
    assert.deepEqual(
      ai.map((e) => [e.action, e.details]),
      [['ai.answer', { decision: 'handoff', sources: 2 }]],
    );
    await assert.rejects(
      recordAudit(env.em(), { workspaceId: demoId, actor: { kind: 'system', subject: 'x' }, action: 'nope' }),
      /must look like "area.verb"/,
    );
  });

  test('another workspace sees none of these entries', async () => {
    await env.workspace('other');
    assert.deepEqual(await entries({}, env.token('admin', 'other')), []);
  });

  test('append-only: UPDATE, DELETE and TRUNCATE are refused; only the retention job deletes', async () => {
    const em = env.em();
    await assert.rejects(
      sql(em, `update audit_entry set actor_subject = 'someone else'`),
      /append-only: UPDATE/,
    );
    await assert.rejects(sql(em, 'delete from audit_entry'), /append-only: DELETE/);
    await assert.rejects(sql(em, 'truncate audit_entry'), /append-only: TRUNCATE/);

    const old = new Date(Date.now() - 400 * 86_400_000);
    await recordAudit(env.em(), {
      workspaceId: demoId,
      actor: { kind: 'system', subject: 'test' },
      action: 'test.old',
      occurredAt: old,
    });
    const total = Number((await sql<{ n: string }>(env.em(), 'select count(*) as n from audit_entry'))[0]?.n);
    assert.equal(await cleanUpAuditLog(env.em(), 365), 1, 'only the entry past the retention window');
    const left = Number((await sql<{ n: string }>(env.em(), 'select count(*) as n from audit_entry'))[0]?.n);
    assert.equal(left, total - 1);
    assert.deepEqual(await entries({ action: 'test.old' }), []);
  });
});
