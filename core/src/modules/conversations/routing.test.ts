import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WORKSPACE_FILTER } from '../../db/orm.ts';
import { sql } from '../../db/sql.ts';
import { testChannelPlugin } from '../../testing/fixtures/test-channel-plugin.ts';
import {
  createTestEnvironment,
  type GraphQLClient,
  type TestEnvironment,
  waitFor,
} from '../../testing/index.ts';
import type { WorkspaceEntity } from '../workspaces/entities.ts';
import { conversationDependencies } from './levels.ts';
import { requestHandoff } from './service/handoff.ts';
import { classifyMessage } from './service/routing.ts';
import {
  conversationOfProviderId,
  count,
  createTestInbox,
  globalId,
  inbound,
  type TestInbox,
} from './test-fixtures.ts';

interface AssignmentRow {
  assignee: string | null;
  team: string | null;
  reason: string;
  detail: string | null;
}

describe('routing and handoff', () => {
  let env: TestEnvironment;
  let demo: WorkspaceEntity;
  let admin: GraphQLClient;
  let agent: GraphQLClient;
  let mail: TestInbox;
  let sms: TestInbox;
  let sequence = 0;

  /** A new customer writes; resolves with the conversation's row id once routing has run. */
  const newConversation = async (
    inbox: TestInbox,
    options: { language?: string; email?: string; phone?: string } = {},
  ): Promise<string> => {
    sequence += 1;
    const id = `route-${sequence}`;
    await inbound(env, inbox, {
      id,
      from:
        inbox === sms
          ? { phone: options.phone ?? `+4179555${String(1000 + sequence)}` }
          : { email: options.email ?? `customer-${sequence}@example.com` },
      text: `Message ${sequence}`,
      ...(options.language ? { language: options.language } : {}),
    });
    const conversationId = await conversationOfProviderId(env, id);
    await waitFor(
      async () =>
        (await count(
          env,
          'event_delivery d join outbox_event e on e.id = d.event_id',
          `e.type = 'conversation.opened' and e.subject = $1 and d.status = 'succeeded'`,
          [conversationId],
        )) > 0,
      15000,
      'routing of the new conversation',
    );
    return conversationId;
  };
  const holderOf = async (conversationId: string) => {
    const [row] = await sql<{ assignee: string | null; team: string | null; priority: string }>(
      env.em(),
      'select assignee, team, priority from conversation where id = $1',
      [conversationId],
    );
    return row;
  };
  const assignmentsOf = (conversationId: string) =>
    sql<AssignmentRow>(
      env.em(),
      'select assignee, team, reason, detail from conversation_assignment where conversation_id = $1 order by created_at',
      [conversationId],
    );
  const scopedEm = () => {
    const em = env.em();
    em.setFilterParams(WORKSPACE_FILTER, { id: demo.id });
    return em;
  };

  before(async () => {
    env = await createTestEnvironment({ plugins: [testChannelPlugin()] });
    demo = await env.workspace('demo');
    admin = env.adminClient.withToken(env.token('admin'));
    agent = env.adminClient.withToken(env.token('agent'));
    mail = await createTestInbox(admin, 'test', 'Mail');
    sms = await createTestInbox(admin, 'test2', 'Phone');

    const upsert = `mutation ($input: UpsertAgentInput!) { upsertAgent(input: $input) { __typename ... on ValidationError { field message } } }`;
    for (const input of [
      {
        subject: 'alice',
        displayName: 'Alice',
        teams: ['billing'],
        skills: ['refunds'],
        languages: ['de'],
        maxOpen: 2,
      },
      { subject: 'bob', displayName: 'Bob', teams: ['billing'], skills: ['refunds'], maxOpen: 1 },
      { subject: 'carla', displayName: 'Carla', teams: ['support'], languages: ['en'], maxOpen: 5 },
      { subject: 'dave', displayName: 'Dave', teams: ['vip'], maxOpen: 5 },
    ]) {
      assert.equal((await admin.ok(upsert, { input })).upsertAgent.__typename, 'UpsertAgentPayload');
    }
    await sql(
      env.em(),
      `insert into segment (id, workspace_id, key, name, condition, status, computed_profiles, total_profiles, created_at, updated_at)
       values (gen_random_uuid(), $1, 'vip', 'VIP', '{"all": []}', 'active', 0, 0, now(), now())`,
      [demo.id],
    );
    const create = `mutation ($input: CreateRoutingRuleInput!) { createRoutingRule(input: $input) { __typename ... on ValidationError { field message } } }`;
    for (const input of [
      { name: 'VIP', match: { segments: ['vip'] }, team: 'vip', priority: 'HIGH' },
      { name: 'Refunds', match: { intents: ['refund'] }, team: 'billing', requiredSkills: ['refunds'] },
      { name: 'German', match: { languages: ['de'] }, team: 'billing' },
      { name: 'Phone', match: { channels: ['test2'] }, team: 'support' },
    ]) {
      assert.equal(
        (await admin.ok(create, { input })).createRoutingRule.__typename,
        'CreateRoutingRulePayload',
      );
    }
  });
  after(() => env?.destroy());

  // Every test starts with nobody holding anything.
  beforeEach(async () => {
    await sql(
      env.em(),
      `update conversation set status = 'resolved', resolved_at = now() where status <> 'resolved'`,
    );
  });

  test('rules are checked on save and listed in order', async () => {
    const create = `mutation ($input: CreateRoutingRuleInput!) { createRoutingRule(input: $input) { __typename ... on ValidationError { field } } }`;
    const badChannel = await admin.ok(create, { input: { name: 'x', match: { channels: ['pigeon'] } } });
    assert.deepEqual(badChannel.createRoutingRule, {
      __typename: 'ValidationError',
      field: 'match.channels',
    });
    const badSegment = await admin.ok(create, { input: { name: 'x', match: { segments: ['nope'] } } });
    assert.deepEqual(badSegment.createRoutingRule, {
      __typename: 'ValidationError',
      field: 'match.segments',
    });
    const forbidden = await agent.query(create, { input: { name: 'x' } });
    assert.equal(forbidden.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    const rules = await agent.ok(
      '{ routingRules { name position team match { channels languages segments intents } } }',
    );
    assert.deepEqual(
      rules.routingRules.map((r: { name: string; position: number }) => [r.name, r.position]),
      [
        ['VIP', 1],
        ['Refunds', 2],
        ['German', 3],
        ['Phone', 4],
      ],
    );
    assert.deepEqual(rules.routingRules[3].match, {
      channels: ['test2'],
      languages: [],
      segments: [],
      intents: [],
    });
  });

  test('by channel: a phone message goes to support', async () => {
    const conversationId = await newConversation(sms);
    assert.deepEqual(await holderOf(conversationId), {
      assignee: 'carla',
      team: 'support',
      priority: 'normal',
    });
    assert.deepEqual(await assignmentsOf(conversationId), [
      { assignee: 'carla', team: 'support', reason: 'rule', detail: 'rule "Phone"' },
    ]);
    assert.equal(
      await count(env, 'outbox_event', `type = 'conversation.assigned' and subject = $1`, [conversationId]),
      1,
    );
  });

  test('by language, to the least-loaded agent under maxOpen; nobody free: the team holds it', async () => {
    // Alice (de, max 2) and Bob (any language, max 1) both have nothing: the tie goes to Alice by name.
    const first = await newConversation(mail, { language: 'de-CH' });
    assert.deepEqual(await holderOf(first), { assignee: 'alice', team: 'billing', priority: 'normal' });
    const second = await newConversation(mail, { language: 'de' });
    assert.equal((await holderOf(second))?.assignee, 'bob', 'Bob has less load');
    const third = await newConversation(mail, { language: 'de' });
    assert.equal((await holderOf(third))?.assignee, 'alice', 'Bob is full (maxOpen 1)');
    const fourth = await newConversation(mail, { language: 'de' });
    assert.deepEqual(await holderOf(fourth), { assignee: null, team: 'billing', priority: 'normal' });
    assert.deepEqual(await assignmentsOf(fourth), [
      { assignee: null, team: 'billing', reason: 'rule', detail: 'rule "German"' },
    ]);
    const unassigned = await agent.ok(
      `{ inbox(filter: { assignee: "unassigned", team: "billing", statuses: [OPEN] }) { edges { node { id } } } }`,
    );
    assert.deepEqual(
      unassigned.inbox.edges.map((e: { node: { id: string } }) => e.node.id),
      [globalId('Conversation', fourth)],
    );
  });

  test('by segment: a VIP goes to the VIP team with high priority', async () => {
    await inbound(env, mail, { id: 'vip-warmup', from: { email: 'vip@example.com' }, text: 'Hello' });
    const [profile] = await sql<{ id: string }>(
      env.em(),
      `select profile_id as id from identity where type = 'email' and value = 'vip@example.com'`,
    );
    await sql(env.em(), `update conversation set status = 'resolved' where profile_id = $1`, [profile?.id]);
    await sql(
      env.em(),
      `insert into segment_membership (id, workspace_id, segment_id, profile_id, entered_at)
       select gen_random_uuid(), $1, s.id, $2, now() from segment s where s.key = 'vip' and s.workspace_id = $1`,
      [demo.id, profile?.id],
    );
    const conversationId = await newConversation(mail, { email: 'vip@example.com', language: 'de' });
    assert.deepEqual(await holderOf(conversationId), { assignee: 'dave', team: 'vip', priority: 'high' });
  });

  test('by intent: classification re-routes an unassigned conversation, with skills and language', async () => {
    // No rule matches an English message by mail: every available agent can take it (Carla speaks en).
    await sql(env.em(), `update conversation_agent set available = false where subject <> 'bob'`);
    try {
      await sql(env.em(), `update conversation_agent set max_open = 0 where subject = 'bob'`);
      const conversationId = await newConversation(mail, { language: 'en' });
      assert.deepEqual(await holderOf(conversationId), { assignee: null, team: null, priority: 'normal' });
      await sql(env.em(), `update conversation_agent set max_open = 1 where subject = 'bob'`);
      await sql(env.em(), `update conversation_agent set available = true where subject <> 'bob'`);

      const [message] = await sql<{ id: string }>(
        env.em(),
        `select id from message where conversation_id = $1 and direction = 'inbound'`,
        [conversationId],
      );
      const { routing } = await classifyMessage(scopedEm(), message?.id as string, {
        intent: 'Refund',
        sentiment: -0.4,
      });
      assert.equal(routing?.rule?.name, 'Refunds');
      // Refunds need the skill: Alice has it but speaks only German, so Bob takes it.
      assert.deepEqual(await holderOf(conversationId), {
        assignee: 'bob',
        team: 'billing',
        priority: 'normal',
      });
      const [stored] = await sql<{ intent: string; sentiment: number; conversation_intent: string }>(
        env.em(),
        `select m.intent, m.sentiment, c.intent as conversation_intent from message m join conversation c on c.id = m.conversation_id where m.id = $1`,
        [message?.id],
      );
      assert.deepEqual(stored, { intent: 'refund', sentiment: -0.4, conversation_intent: 'refund' });

      // Classifying again does not take it away from Bob.
      const again = await classifyMessage(scopedEm(), message?.id as string, { intent: 'refund' });
      assert.equal(again.routing, null);
      await assert.rejects(classifyMessage(scopedEm(), message?.id as string, { sentiment: 3 }), /sentiment/);
    } finally {
      await sql(
        env.em(),
        `update conversation_agent set available = true, max_open = case subject when 'bob' then 1 else max_open end`,
      );
    }
  });

  test('agents assign by hand: to themselves, to a registered agent, or to nobody', async () => {
    const conversationId = await newConversation(sms);
    const assign = `mutation ($input: AssignConversationInput!) {
      assignConversation(input: $input) { __typename ... on AssignConversationPayload { conversation { assignee team } } ... on ValidationError { field } }
    }`;
    const id = globalId('Conversation', conversationId);
    const me = await agent.ok(assign, { input: { conversationId: id, assignee: 'me' } });
    assert.deepEqual(me.assignConversation.conversation, { assignee: 'dev-agent', team: 'support' });
    const unknown = await agent.ok(assign, { input: { conversationId: id, assignee: 'nobody-known' } });
    assert.deepEqual(unknown.assignConversation, { __typename: 'ValidationError', field: 'assignee' });
    const toBob = await agent.ok(assign, { input: { conversationId: id, assignee: 'bob', team: 'billing' } });
    assert.deepEqual(toBob.assignConversation.conversation, { assignee: 'bob', team: 'billing' });
    const none = await agent.ok(assign, { input: { conversationId: id, assignee: null } });
    assert.deepEqual(none.assignConversation.conversation, { assignee: null, team: 'billing' });
    const trail = await agent.ok(
      `query ($id: ID!) { conversation(id: $id) { assignments { assignee team reason assignedBy } } }`,
      { id },
    );
    assert.deepEqual(trail.conversation.assignments, [
      { assignee: 'carla', team: 'support', reason: 'RULE', assignedBy: null },
      { assignee: 'dev-agent', team: 'support', reason: 'MANUAL', assignedBy: 'dev-agent' },
      { assignee: 'bob', team: 'billing', reason: 'MANUAL', assignedBy: 'dev-agent' },
      { assignee: null, team: 'billing', reason: 'MANUAL', assignedBy: 'dev-agent' },
    ]);
  });

  test('a handoff notes the summary, reopens, raises the priority and routes to a human', async () => {
    const conversationId = await newConversation(sms);
    const id = globalId('Conversation', conversationId);
    // The assistant has been answering: nobody holds it, and it was set aside.
    await agent.ok(
      `mutation ($id: ID!) { assignConversation(input: { conversationId: $id }) { __typename } }`,
      { id },
    );
    await agent.ok(
      `mutation ($id: ID!) { resolveConversation(input: { conversationId: $id }) { __typename } }`,
      { id },
    );

    // What a plugin passes: conversationDependencies(ctx) of its runtime.
    const deps = conversationDependencies({
      channels: new Map(
        env.atrium.modules.flatMap((m) => m.definition.channels ?? []).map((c) => [c.code, c]),
      ),
      jobs: env.atrium.jobs,
      settings: env.atrium.settings,
    });
    const em = scopedEm();
    const outcome = await em.transactional((tx) =>
      requestHandoff(tx, deps, {
        conversationId,
        source: 'assistant',
        reason: 'asked-for-human',
        summary: 'Wants a refund for order 1042; the tracking page shows it delivered.',
        context: { orderId: '1042', tried: ['tracking link'] },
      }),
    );
    assert.equal(outcome.conversation.status, 'open');
    assert.equal(outcome.conversation.priority, 'high');
    assert.equal(outcome.conversation.assignee, 'carla', 'the Phone rule sends it to support');
    assert.ok(outcome.notices.length > 0);

    const seen = await agent.ok(
      `query ($id: ID!) {
        conversation(id: $id) {
          status priority assignee
          handoffs { source reason summary context }
          assignments { assignee reason detail assignedBy }
          messages(first: 1) { edges { node { internal author authorId text } } }
        }
      }`,
      { id },
    );
    const thread = seen.conversation;
    assert.equal(thread.status, 'OPEN');
    assert.equal(thread.priority, 'HIGH');
    assert.deepEqual(thread.handoffs, [
      {
        source: 'assistant',
        reason: 'asked-for-human',
        summary: 'Wants a refund for order 1042; the tracking page shows it delivered.',
        context: { orderId: '1042', tried: ['tracking link'] },
      },
    ]);
    assert.deepEqual(thread.assignments.at(-1), {
      assignee: 'carla',
      reason: 'HANDOFF',
      detail: 'assistant: asked-for-human',
      assignedBy: 'assistant',
    });
    assert.deepEqual(thread.messages.edges[0].node, {
      internal: true,
      author: 'SYSTEM',
      authorId: 'assistant',
      text: 'Handed off by assistant (asked-for-human): Wants a refund for order 1042; the tracking page shows it delivered.',
    });
    assert.equal(
      await count(env, 'outbox_event', `type = 'conversation.handed-off' and subject = $1`, [conversationId]),
      1,
    );

    // A second handoff while Carla holds it keeps her.
    const second = await em.transactional((tx) =>
      requestHandoff(tx, deps, {
        conversationId,
        source: 'assistant',
        reason: 'low-confidence',
        summary: 'Again',
      }),
    );
    assert.equal(second.routing, null);
    assert.equal(second.conversation.assignee, 'carla');
    assert.equal(second.conversation.priority, 'high', 'a handoff never lowers the priority');
  });

  test('agents are listed, and deleting one keeps what they hold', async () => {
    const list = await agent.ok(
      '{ agents(first: 10) { edges { node { id subject languages maxOpen available } } } }',
    );
    assert.deepEqual(
      list.agents.edges.map((e: { node: { subject: string } }) => e.node.subject),
      ['alice', 'bob', 'carla', 'dave'],
    );
    const bad = await admin.ok(
      `mutation { upsertAgent(input: { subject: "eve", languages: ["not a language"] }) { __typename ... on ValidationError { field } } }`,
    );
    assert.deepEqual(bad.upsertAgent, { __typename: 'ValidationError', field: 'languages' });
    const dave = list.agents.edges.find((e: { node: { subject: string } }) => e.node.subject === 'dave').node;
    const deleted = await admin.ok(
      `mutation ($id: ID!) { deleteAgent(input: { id: $id }) { __typename ... on DeleteAgentPayload { deletedAgentId } } }`,
      { id: dave.id },
    );
    assert.equal(deleted.deleteAgent.deletedAgentId, dave.id);
  });
});
