// Knowledge gaps on the real server and PostgreSQL, without Ollama: unanswered questions are
// grouped by keywords, editors dismiss gaps or draft articles (an outline; a scripted model for
// the AI draft's marking), errors change nothing, workspaces stay apart, and erasure takes a
// person's questions out of the gaps. gap-drafts.test.ts does embeddings and drafts on Ollama.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openCustomerSession, WORKSPACE_FILTER } from '@atrium/core';
import {
  createTestEnvironment,
  sweepForPersonalData,
  type TestEnvironment,
  waitFor,
} from '@atrium/core/testing';
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { assistantConfig } from './config.ts';
import { AssistantGapQuestion } from './entities.ts';
import { draftArticleFromGap } from './gap-drafts.ts';
import { GAP_QUEUE } from './gaps.ts';
import { assistantPlugin } from './index.ts';
import { prepareContent, publishArticle, ScriptedModel } from './test-support.ts';

let env: TestEnvironment;

const GIFT = [
  'Do you offer gift wrapping?',
  'Can I get my order gift wrapped?',
  'Is gift wrapping available for presents?',
];
const BITCOIN = ['Can I pay with bitcoin?', 'Can I pay by bitcoin or ethereum?'];
const ORDER = 'Where is my order?';
const BITCOIN_MAIL = 'Can I pay with bitcoin? max@example.com';

const GAP = `id label status method questionCount sampleQuestions firstAskedAt lastAskedAt draftEntryId decidedBy`;
const GAPS = `query ($status: KnowledgeGapStatus) { knowledgeGaps(status: $status) { edges { node { ${GAP} } } } }`;
const REFRESH = `mutation { refreshKnowledgeGaps { questions newGaps method notice } }`;
const DISMISS = `mutation ($input: DismissKnowledgeGapInput!) { dismissKnowledgeGap(input: $input) { __typename
  ... on DismissKnowledgeGapPayload { gap { ${GAP} } } ... on KnowledgeGapStateError { status message } ... on Error { code message } } }`;
const DRAFT = `mutation ($input: DraftKnowledgeArticleFromGapInput!) { draftKnowledgeArticleFromGap(input: $input) { __typename
  ... on DraftKnowledgeArticleFromGapPayload { entryId mode model gap { ${GAP} } }
  ... on KnowledgeGapStateError { status message } ... on ValidationError { field message } ... on Error { code message } } }`;
const ASK = `mutation ($question: String!) { askAssistant(question: $question) { __typename ... on AssistantAnswer { mode handoffSuggested } } }`;

interface Gap {
  id: string;
  label: string;
  status: string;
  method: string;
  questionCount: number;
  sampleQuestions: string[];
  draftEntryId: string | null;
  decidedBy: string | null;
}

const editor = (workspace = 'demo') => env.adminClient.withToken(env.token('editor', workspace));

async function gaps(workspace = 'demo', status?: string): Promise<Gap[]> {
  const data = await editor(workspace).ok(GAPS, status ? { status } : {});
  return data.knowledgeGaps.edges.map((e: { node: Gap }) => e.node);
}

const gapWith = async (question: string, workspace = 'demo') =>
  (await gaps(workspace)).find((g) => g.sampleQuestions.includes(question));

/** A customer of the demo workspace (a customer session with its own profile). */
async function customer(): Promise<{ ask: (q: string) => Promise<string>; profileId: string }> {
  const workspaceId = (await env.workspace('demo')).id;
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  const { token, session } = await em.transactional((tx) =>
    openCustomerSession(tx, { workspaceId, issuedBy: 'gaps-test', ttlHours: 1 }),
  );
  const client = env.publicClient.withToken(token);
  return {
    profileId: session.profileId,
    ask: async (question) => (await client.ok(ASK, { question })).askAssistant.mode,
  };
}

async function agentAsks(question: string, workspace = 'demo'): Promise<string> {
  const agent = env.adminClient.withToken(env.token('agent', workspace));
  return (await agent.ok(ASK, { question })).askAssistant.mode;
}

async function questionRows() {
  const workspaceId = (await env.workspace('demo')).id;
  return env.em().find(AssistantGapQuestion, { workspace: workspaceId }, { filters: false });
}

let anna: Awaited<ReturnType<typeof customer>>;
let ben: Awaited<ReturnType<typeof customer>>;

before(async () => {
  env = await createTestEnvironment({ plugins: [assistantPlugin()] });
  await prepareContent(env);
  await publishArticle(env, {
    key: 'shipping',
    title: 'Shipping times',
    body: 'Orders ship within 2 days. Delivery takes 3 to 5 business days in Germany.',
  });
  anna = await customer();
  ben = await customer();
});
after(() => env?.destroy());

describe('knowledge gaps (keywords; drafts without a model, and from a scripted one)', () => {
  test('similar unanswered questions share a gap, different ones do not; answered ones are no gap', async () => {
    assert.equal(await anna.ask(GIFT[0] as string), 'REFUSED');
    await anna.ask(GIFT[1] as string);
    await ben.ask(GIFT[2] as string);
    await ben.ask(BITCOIN[0] as string);
    await agentAsks(BITCOIN[1] as string);
    await agentAsks(ORDER);
    // Nothing but greetings: refused, yet no gap.
    await agentAsks('hello?');
    assert.notEqual(await agentAsks('How long does shipping take?'), 'REFUSED');

    const refreshed = (await editor().ok(REFRESH)).refreshKnowledgeGaps;
    // The periodic job may have read some of them first; together they read each once.
    assert.equal((await questionRows()).length, 7, JSON.stringify(refreshed));
    assert.equal(refreshed.method, 'KEYWORDS');
    assert.match(refreshed.notice, /OLLAMA_EMBED_MODEL/);

    const all = await gaps();
    assert.deepEqual(
      all.map((g) => g.questionCount),
      [3, 2, 1],
      'the most asked first',
    );
    const [gift, bitcoin, order] = all as [Gap, Gap, Gap];
    assert.deepEqual([...gift.sampleQuestions].sort(), [...GIFT].sort());
    assert.match(gift.label, /gift/);
    assert.deepEqual([...bitcoin.sampleQuestions].sort(), [...BITCOIN].sort());
    assert.match(bitcoin.label, /bitcoin/);
    assert.deepEqual(order.sampleQuestions, [ORDER]);
    for (const g of all) {
      assert.equal(g.status, 'OPEN');
      assert.equal(g.method, 'KEYWORDS');
      assert.ok(!g.sampleQuestions.some((q) => /shipping|hello/.test(q)), JSON.stringify(g));
    }
    // Every question is read once: a second refresh finds nothing new.
    assert.equal((await editor().ok(REFRESH)).refreshKnowledgeGaps.questions, 0);
  });

  test('workspaces stay apart: their questions, their gaps; the periodic job reads every workspace', async () => {
    await agentAsks(GIFT[0] as string, 'other');
    assert.equal((await editor().ok(REFRESH)).refreshKnowledgeGaps.questions, 0);
    await env.atrium.jobs.send(GAP_QUEUE, {});
    await waitFor(async () => (await gaps('other')).length === 1, 15000, 'the job to read the question');
    const theirs = await gaps('other');
    assert.equal(theirs.length, 1);
    assert.equal(theirs[0]?.questionCount, 1);
    assert.equal((await gapWith(GIFT[0] as string))?.questionCount, 3);
    // Demo's editor cannot touch the other workspace's gap.
    const foreign = await editor().ok(DISMISS, { input: { id: theirs[0]?.id } });
    assert.equal(foreign.dismissKnowledgeGap.code, 'NOT_FOUND');
    assert.equal((await gaps('other'))[0]?.status, 'OPEN');
  });

  test('dismissing: an open gap only; later questions still join it, quietly', async () => {
    const order = (await gapWith(ORDER)) as Gap;
    const dismissed = (await editor().ok(DISMISS, { input: { id: order.id } })).dismissKnowledgeGap;
    assert.equal(dismissed.gap.status, 'DISMISSED');
    assert.ok(dismissed.gap.decidedBy);
    const again = (await editor().ok(DISMISS, { input: { id: order.id } })).dismissKnowledgeGap;
    assert.equal(again.__typename, 'KnowledgeGapStateError');
    assert.equal(again.status, 'DISMISSED');
    const unknown = (
      await editor().ok(DISMISS, { input: { id: encodeGlobalID('KnowledgeGap', crypto.randomUUID()) } })
    ).dismissKnowledgeGap;
    assert.equal(unknown.code, 'NOT_FOUND');
    const notAGap = (
      await editor().ok(DISMISS, { input: { id: encodeGlobalID('ContentEntry', crypto.randomUUID()) } })
    ).dismissKnowledgeGap;
    assert.equal(notAGap.code, 'NOT_FOUND');

    await agentAsks('Where is my order right now?');
    await editor().ok(REFRESH);
    const after = (await gapWith(ORDER)) as Gap;
    assert.equal(after.id, order.id);
    assert.equal(after.questionCount, 2);
    assert.equal(after.status, 'DISMISSED');
    assert.deepEqual(
      (await gaps('demo', 'DISMISSED')).map((g) => g.id),
      [order.id],
    );
  });

  test('drafting makes a DRAFT kb_article outline of the questions and records it; errors change nothing', async () => {
    const admin = env.adminClient.withToken(env.token('admin'));
    const kbEntries = async () =>
      (await admin.ok(`{ entries(filter: { type: "kb_article" }) { edges { node { id } } } }`)).entries.edges
        .length;
    const gift = (await gapWith(GIFT[0] as string)) as Gap;
    const bitcoin = (await gapWith(BITCOIN[0] as string)) as Gap;

    const badLocale = (await editor().ok(DRAFT, { input: { id: bitcoin.id, locale: 'xx' } }))
      .draftKnowledgeArticleFromGap;
    assert.equal(badLocale.__typename, 'ValidationError');
    assert.equal(badLocale.field, 'locale');
    assert.equal((await gapWith(BITCOIN[0] as string))?.status, 'OPEN');
    const unknown = (
      await editor().ok(DRAFT, { input: { id: encodeGlobalID('KnowledgeGap', crypto.randomUUID()) } })
    ).draftKnowledgeArticleFromGap;
    assert.equal(unknown.code, 'NOT_FOUND');
    assert.equal(await kbEntries(), 0);

    const drafted = (await editor().ok(DRAFT, { input: { id: gift.id } })).draftKnowledgeArticleFromGap;
    assert.equal(drafted.__typename, 'DraftKnowledgeArticleFromGapPayload', JSON.stringify(drafted));
    assert.equal(drafted.mode, 'OUTLINE');
    assert.equal(drafted.model, null);
    assert.equal(drafted.gap.status, 'DRAFTED');
    assert.equal(drafted.gap.draftEntryId, drafted.entryId);

    const entry = (
      await editor().ok(
        `query ($id: ID!) { entry(id: $id) { key status publishedVersion tags type { key } versions { fields } } }`,
        { id: drafted.entryId },
      )
    ).entry;
    assert.equal(entry.status, 'DRAFT');
    assert.equal(entry.publishedVersion, null);
    assert.equal(entry.type.key, 'kb_article');
    assert.deepEqual(entry.tags, ['knowledge-gap']);
    const body = JSON.stringify(entry.versions[0].fields);
    for (const question of GIFT) assert.ok(body.includes(question), `${question} in ${body}`);
    assert.ok(!body.includes('AI draft'), 'no model wrote it');

    const twice = (await editor().ok(DRAFT, { input: { id: gift.id } })).draftKnowledgeArticleFromGap;
    assert.equal(twice.__typename, 'KnowledgeGapStateError');
    assert.equal(twice.status, 'DRAFTED');
    assert.equal(await kbEntries(), 1);
    const stillDrafted = (await gapWith(GIFT[0] as string)) as Gap;
    assert.equal(stillDrafted.draftEntryId, drafted.entryId);
    assert.equal(decodeGlobalID(stillDrafted.draftEntryId as string).typename, 'ContentEntry');
  });

  test('a model’s draft is marked as an AI draft; it sees the questions only as quoted data, addresses redacted', async () => {
    await agentAsks(BITCOIN_MAIL);
    await editor().ok(REFRESH);
    const bitcoin = (await gapWith(BITCOIN[0] as string)) as Gap;
    assert.equal(bitcoin.questionCount, 3, JSON.stringify(bitcoin));
    const model = new ScriptedModel(() => ({
      text: JSON.stringify({
        question: 'Can I pay with <b>bitcoin</b>?',
        answer: 'Not yet [to be confirmed].',
      }),
    }));
    const workspaceId = (await env.workspace('demo')).id;
    const em = env.em();
    em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
    const draft = await draftArticleFromGap(
      { em, llm: model, config: assistantConfig.parse({}) },
      {
        workspaceId,
        gapId: decodeGlobalID(bitcoin.id).id,
        actor: { subject: 'editor-test', scopes: ['editor'] },
      },
    );
    assert.equal(draft.mode, 'generated');
    assert.equal(draft.model, model.model);
    assert.equal(draft.gap.status, 'drafted');
    const [system, user] = model.requests[0]?.messages ?? [];
    assert.ok(!system?.content.includes('bitcoin'), 'the questions stay out of the system message');
    assert.match(user?.content ?? '', /^<questions>[\s\S]*<\/questions>$/);
    assert.ok(!user?.content.includes('max@example.com'));

    const entry = (
      await editor().ok(
        `query ($id: ID!) { entry(id: $id) { status publishedVersion tags versions { fields } } }`,
        {
          id: encodeGlobalID('ContentEntry', draft.entryId),
        },
      )
    ).entry;
    assert.equal(entry.status, 'DRAFT');
    assert.equal(entry.publishedVersion, null);
    assert.deepEqual(entry.tags, ['knowledge-gap', 'ai-draft']);
    const fields = entry.versions[0].fields.en;
    assert.equal(fields.question, 'Can I pay with bitcoin?');
    const body = JSON.stringify(fields.answer);
    assert.match(
      body,
      /AI draft, needs review: written by the language model compromised from 3 customer questions/,
    );
    assert.match(body, /Not yet \[to be confirmed\]/);
    assert.ok(body.includes('[redacted]') && !body.includes('max@example.com'), body);
  });

  test('agents and reviewers do not see gaps: they hold customers’ questions', async () => {
    for (const role of ['agent', 'reviewer'] as const) {
      const result = await env.adminClient.withToken(env.token(role)).query(GAPS, {});
      assert.ok(result.errors?.length, `${role} must be refused`);
    }
  });

  test('export shows a person’s questions in gaps; erasure takes them out and relabels or removes the gaps', async () => {
    const admin = env.adminClient.withToken(env.token('admin'));
    const exported = await admin.ok(
      `mutation ($input: ExportProfileInput!) { exportProfile(input: $input) { ... on ExportProfilePayload { document } } }`,
      { input: { profileId: encodeGlobalID('Profile', anna.profileId) } },
    );
    const theirs = exported.exportProfile.document.modules.assistant.knowledgeGapQuestions;
    assert.deepEqual(
      theirs.map((q: { question: string }) => q.question),
      GIFT.slice(0, 2),
    );
    const erase = async (profileId: string) => {
      const erased = await admin.ok(
        `mutation ($input: EraseProfileInput!) { eraseProfile(input: $input) { __typename ... on Error { message } } }`,
        { input: { profileId: encodeGlobalID('Profile', profileId), reason: 'data subject request' } },
      );
      assert.equal(erased.eraseProfile.__typename, 'EraseProfilePayload', JSON.stringify(erased));
    };
    await erase(anna.profileId);
    const gift = (await gapWith(GIFT[2] as string)) as Gap;
    assert.equal(gift.questionCount, 1);
    assert.deepEqual(gift.sampleQuestions, [GIFT[2]]);
    assert.equal(gift.status, 'DRAFTED');
    assert.ok(!/offer|get|order/.test(gift.label), gift.label);

    await erase(ben.profileId);
    assert.equal(await gapWith(GIFT[2] as string), undefined, 'a gap without questions goes');
    const bitcoin = (await gapWith(BITCOIN[1] as string)) as Gap;
    assert.equal(bitcoin.questionCount, 2);
    assert.deepEqual(bitcoin.sampleQuestions, [BITCOIN_MAIL, BITCOIN[1]]);
    // The agents' questions stay (hello?, two about bitcoin, two about orders); none of Anna's or Ben's.
    assert.equal((await questionRows()).length, 5);
    const { hits } = await sweepForPersonalData(env.databaseUrl, [anna.profileId, ben.profileId]);
    assert.deepEqual(
      hits.filter((h) => h.table.startsWith('assistant_')),
      [],
    );
  });
});
