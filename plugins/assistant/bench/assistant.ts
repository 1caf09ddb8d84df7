// Time to first token and total time of an assistant answer against a raw Ollama chat call with
// the same model, the same prompt and the same settings, in the same run, and a second raw call as
// the control for the model's own spread. The overhead is what the assistant adds: policy,
// retrieval through the search port, the output guard's hold-back. Aim: ≤ 50 ms to first token.
// Needs ATRIUM_TEST_DATABASE_URL, OLLAMA_URL and OLLAMA_MODEL (deploy/local/postgres.sh, ollama.sh).
// BENCH_RUNS (default 10) answers of each kind.
import { OllamaProvider, WORKSPACE_FILTER } from '@atrium/core';
import { createTestEnvironment } from '@atrium/core/testing';
import { answerQuestion } from '../src/answer.ts';
import { assistantConfig } from '../src/config.ts';
import { buildPrompt } from '../src/governance.ts';
import { assistantPlugin } from '../src/index.ts';
import { DEFAULT_POLICY } from '../src/policy.ts';
import { retrievePassages } from '../src/retrieval.ts';
import { prepareContent, publishArticle } from '../src/test-support.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const url = process.env.OLLAMA_URL;
const model = process.env.OLLAMA_MODEL;
if (!url || !model)
  throw new Error('set OLLAMA_URL and OLLAMA_MODEL (bash deploy/local/ollama.sh prints them)');

const env = await createTestEnvironment({
  plugins: [assistantPlugin()],
  settings: { OLLAMA_URL: url, OLLAMA_MODEL: model },
});
try {
  const workspaceId = (await env.workspace('demo')).id;
  await prepareContent(env);
  await publishArticle(env, {
    key: 'returns',
    title: 'Returning an item',
    body: 'You can return an item within 30 days of delivery. Print the return label from your account and drop the parcel at any post office. Refunds arrive within 5 business days.',
  });
  const em = env.em();
  em.setFilterParams(WORKSPACE_FILTER, { id: workspaceId });
  const config = assistantConfig.parse({ maxAnswerTokens: 64 });
  const runtime = { ...env.atrium.runtimeOf('assistant'), config };
  const settings = { maxTokens: config.maxAnswerTokens, temperature: 0.2, seed: 7 };
  // Both sides generate with the same settings.
  let calledAt = 0;
  let firstChunkAt = 0;
  class SameSettings extends OllamaProvider {
    override async *chatStream(request: Parameters<OllamaProvider['chatStream']>[0]) {
      calledAt = performance.now();
      firstChunkAt = 0;
      for await (const chunk of super.chatStream({ ...request, ...settings })) {
        if (!firstChunkAt && chunk.content.trim()) firstChunkAt = performance.now();
        yield chunk;
      }
    }
  }
  const llm = new SameSettings({ url, model, timeoutMs: 300_000 });
  const question = 'How can I return an item I bought?';
  const { passages } = await retrievePassages(runtime, em, {
    workspaceId,
    question,
    collections: DEFAULT_POLICY.allowedCollections,
    includeInternal: false,
    limit: config.maxSources,
    minCoverage: config.minCoverage,
    minSimilarity: config.minSimilarity,
  });

  async function raw(): Promise<[number, number]> {
    const started = performance.now();
    let first = 0;
    const prompt = buildPrompt(DEFAULT_POLICY, passages, question, null);
    for await (const chunk of llm.chatStream({ messages: prompt.messages })) {
      if (!first && chunk.content.trim()) first = performance.now() - started;
    }
    return [first, performance.now() - started];
  }
  const beforeModel: number[] = [];
  // From the model's first token to the first text the output guard released.
  const holdBack: number[] = [];
  async function assistant(): Promise<[number, number]> {
    const started = performance.now();
    let first = 0;
    const outcome = await answerQuestion(
      {
        runtime,
        llm,
        em,
        policy: DEFAULT_POLICY,
        onText: (text) => {
          if (!first && text.trim()) first = performance.now() - started;
        },
      },
      { workspaceId, question, audience: 'customer' },
    );
    beforeModel.push(calledAt - started);
    holdBack.push(first - (firstChunkAt - started));
    if (outcome.mode !== 'generated')
      console.error(`note: an answer was ${outcome.mode} (${outcome.rulesApplied.join(', ')})`);
    return [first, performance.now() - started];
  }

  process.stderr.write('warming up the model…\n');
  await raw();
  // A third kind, a second raw call, is the control: raw against raw shows how far two identical
  // requests differ on this machine, the noise any end-to-end difference must be read against.
  const kinds = { raw, assistant, control: raw };
  const times = {
    raw: [] as [number, number][],
    assistant: [] as [number, number][],
    control: [] as [number, number][],
  };
  const orders: (keyof typeof kinds)[][] = [
    ['raw', 'assistant', 'control'],
    ['assistant', 'control', 'raw'],
    ['control', 'raw', 'assistant'],
  ];
  // Each round runs the three kinds in a rotating order, so what one call leaves in the model
  // server (its cache, a warm or cold CPU) weighs on every kind alike.
  for (let i = 0; i < RUNS; i++) {
    for (const kind of orders[i % orders.length] ?? []) times[kind].push(await kinds[kind]());
    process.stderr.write(`run ${i + 1}/${RUNS}\n`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const row = (name: string, t: [number, number][]) => ({
    name,
    ttft: median(t.map((x) => x[0])),
    total: median(t.map((x) => x[1])),
  });
  const pairedFirstToken = (t: [number, number][]) =>
    median(t.map((x, i) => x[0] - (times.raw[i]?.[0] ?? 0)));
  console.log(
    `model ${model} at ${url}, ${RUNS} runs each, medians, ${config.maxAnswerTokens} tokens at most`,
  );
  console.log('kind                 first token     total   first token − raw (paired)');
  for (const [name, t] of [
    ['raw Ollama chat', times.raw],
    ['assistant answer', times.assistant],
    ['raw again (control)', times.control],
  ] as const) {
    const x = row(name, t);
    const paired = name.startsWith('raw Ollama') ? '' : `${pairedFirstToken(t).toFixed(0).padStart(8)} ms`;
    console.log(
      `${x.name.padEnd(20)} ${x.ttft.toFixed(0).padStart(8)} ms ${x.total.toFixed(0).padStart(8)} ms   ${paired}`,
    );
  }
  // What the assistant itself adds to the first token, measured inside each answer and so free of
  // the model's spread: its work before the model is called (policy, retrieval, memory, prompt)
  // and the output guard releasing text one word behind the model.
  const work = median(beforeModel);
  const held = median(holdBack);
  console.log(`assistant work before the model is called: ${work.toFixed(1)} ms`);
  console.log(`output guard hold-back (model's first token → first released text): ${held.toFixed(1)} ms`);
  console.log(
    `assistant's own overhead to first token: ${(work + held).toFixed(1)} ms (aim ≤ 50 ms): ${work + held <= 50 ? 'met' : 'NOT met'}`,
  );
} finally {
  await env.destroy();
}
