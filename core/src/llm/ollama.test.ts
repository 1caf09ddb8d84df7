// The Ollama adapter against a real Ollama (deploy/local/ollama.sh: SmolLM2-135M). A 135M model
// writes poor prose, so these tests assert on behaviour — shapes, schema-valid JSON, errors — never on wording.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { createTestEnvironment, type TestEnvironment } from '../testing/index.ts';
import { ollamaForTests } from '../testing/ollama.ts';
import { OllamaProvider } from './ollama.ts';
import { LlmError } from './provider.ts';

const ollama = ollamaForTests();

const provider = (overrides: Partial<ConstructorParameters<typeof OllamaProvider>[0]> = {}) =>
  new OllamaProvider({
    url: ollama?.url ?? 'http://127.0.0.1:1',
    model: ollama?.model ?? 'none',
    embedModel: ollama?.model ?? null,
    timeoutMs: 60_000,
    ...overrides,
  });

const question = [
  { role: 'system' as const, content: 'You answer in one short sentence.' },
  { role: 'user' as const, content: 'What colour is the sky?' },
];

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LlmError, `expected an LlmError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

describe('Ollama adapter', {
  skip: ollama ? false : 'OLLAMA_URL is not set (deploy/local/ollama.sh)',
}, () => {
  test('chat answers with text, the model and token counts', async () => {
    const result = await provider().chat({ messages: question, maxTokens: 8, seed: 1 });
    assert.ok(result.content.trim().length > 0);
    assert.match(result.model, /^atrium-smollm2|^[\w.:-]+$/);
    assert.ok(result.promptTokens > 0 && result.completionTokens > 0);
    assert.ok(result.durationMs > 0);
  });

  test('chatStream yields the answer in pieces, the last one done', async () => {
    const chunks = [];
    for await (const chunk of provider().chatStream({ messages: question, maxTokens: 8, seed: 1 }))
      chunks.push(chunk);
    assert.ok(chunks.length > 2, `only ${chunks.length} chunks`);
    assert.equal(chunks.at(-1)?.done, true);
    assert.ok(chunks.slice(0, -1).every((c) => !c.done));
    assert.ok(
      chunks
        .map((c) => c.content)
        .join('')
        .trim().length > 0,
    );
  });

  test('structured output: the answer is JSON that follows the schema given as format', async () => {
    const schema = z.object({ colour: z.string(), confident: z.boolean() });
    const result = await provider().chat({
      messages: [
        { role: 'system', content: 'Answer as JSON with the keys colour and confident.' },
        { role: 'user', content: 'What colour is the sky?' },
      ],
      format: z.toJSONSchema(schema),
      temperature: 0,
      maxTokens: 80,
    });
    const parsed = schema.safeParse(JSON.parse(result.content));
    assert.ok(parsed.success, `not schema-valid: ${result.content}`);
  });

  test('tools are offered to the model and a tool round trip is accepted', async () => {
    const tools = [
      {
        name: 'order_status',
        description: 'Looks up the status of an order by its number',
        parameters: {
          type: 'object',
          properties: { orderId: { type: 'string', description: 'the order number' } },
          required: ['orderId'],
        },
      },
    ];
    const first = await provider().chat({
      messages: [{ role: 'user', content: 'Where is my order 1042?' }],
      tools,
      maxTokens: 10,
      temperature: 0,
    });
    assert.ok(Array.isArray(first.toolCalls));
    for (const call of first.toolCalls) {
      assert.equal(typeof call.name, 'string');
      assert.equal(typeof call.arguments, 'object');
    }
    // A history with a tool call and its result, as the assistant sends after running a tool.
    const second = await provider().chat({
      messages: [
        { role: 'user', content: 'Where is my order 1042?' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ name: 'order_status', arguments: { orderId: '1042' } }],
        },
        { role: 'tool', toolName: 'order_status', content: '{"status":"shipped"}' },
      ],
      tools,
      maxTokens: 4,
    });
    assert.equal(typeof second.content, 'string');
  });

  test('embed returns one vector per input, all of one length', async () => {
    const vectors = await provider().embed({ input: ['returns and refunds', 'shipping times'] });
    assert.equal(vectors.length, 2);
    assert.ok((vectors[0]?.length ?? 0) > 10);
    assert.equal(vectors[0]?.length, vectors[1]?.length);
    assert.deepEqual(await provider().embed({ input: [] }), []);
  });

  test('without an embedding model, embed says so', async () => {
    await rejectsWith(provider({ embedModel: null }).embed({ input: ['x'] }), 'LLM_NOT_CONFIGURED');
  });

  test('cancelling stops a streamed answer and a pending chat', async () => {
    const controller = new AbortController();
    let pieces = 0;
    const error = await rejectsWith(
      (async () => {
        for await (const _ of provider().chatStream({
          messages: question,
          maxTokens: 400,
          signal: controller.signal,
        })) {
          if (++pieces === 2) controller.abort();
        }
      })(),
      'LLM_CANCELLED',
    );
    assert.equal(pieces, 2, error.message);
    await rejectsWith(provider().chat({ messages: question, signal: AbortSignal.abort() }), 'LLM_CANCELLED');
  });

  test('a call over the timeout is aborted with LLM_TIMEOUT', async () => {
    await rejectsWith(provider({ timeoutMs: 5 }).chat({ messages: question, maxTokens: 400 }), 'LLM_TIMEOUT');
  });

  test('a missing model is named, in calls and in the health check', async () => {
    const error = await rejectsWith(
      provider({ model: 'no-such-model' }).chat({ messages: question }),
      'LLM_MODEL_MISSING',
    );
    assert.match(error.message, /no-such-model/);
    await rejectsWith(provider({ model: 'no-such-model' }).health(), 'LLM_MODEL_MISSING');
    await rejectsWith(provider({ embedModel: 'no-embedder' }).health(), 'LLM_MODEL_MISSING');
    await provider().health();
  });
});

test('Ollama down: calls and the health check say it is not reachable', async () => {
  const down = new OllamaProvider({ url: 'http://127.0.0.1:9', model: 'm', timeoutMs: 5000 });
  const error = await rejectsWith(down.chat({ messages: question }), 'LLM_UNAVAILABLE');
  assert.match(error.message, /127\.0\.0\.1:9 is not reachable/);
  await rejectsWith(
    (async () => {
      for await (const _ of down.chatStream({ messages: question })) break;
    })(),
    'LLM_UNAVAILABLE',
  );
  await rejectsWith(down.health(), 'LLM_UNAVAILABLE');
});

describe('/readyz', { skip: ollama ? false : 'OLLAMA_URL is not set (deploy/local/ollama.sh)' }, () => {
  let ready: TestEnvironment;
  let missing: TestEnvironment;
  before(async () => {
    const url = ollama?.url ?? '';
    ready = await createTestEnvironment({ settings: { OLLAMA_URL: url, OLLAMA_MODEL: ollama?.model ?? '' } });
    missing = await createTestEnvironment({ settings: { OLLAMA_URL: url, OLLAMA_MODEL: 'no-such-model' } });
  });
  after(async () => {
    await ready?.destroy();
    await missing?.destroy();
  });

  /** The body of /readyz: each named check's status, and its error when it failed. */
  type Readiness = { checks: Record<string, { status: string; error?: string }> };

  test('includes the LLM: ready with the model, 503 naming the model without it', async () => {
    const ok = await fetch(`${ready.url}/readyz`);
    assert.equal(ok.status, 200);
    assert.deepEqual(((await ok.json()) as Readiness).checks.llm, { status: 'ok' });
    const notReady = await fetch(`${missing.url}/readyz`);
    assert.equal(notReady.status, 503);
    const body = (await notReady.json()) as Readiness;
    assert.equal(body.checks.llm?.status, 'failed');
    assert.match(body.checks.llm?.error ?? '', /model "no-such-model" is not on the Ollama server/);
  });
});
