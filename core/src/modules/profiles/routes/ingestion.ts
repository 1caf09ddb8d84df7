import type Router from '@koa/router';
import type { Context } from 'koa';
import { RateLimiter } from '../../../http/rate-limit.ts';
import { BodyTooLargeError, readBody } from '../../../http/request-body.ts';
import { ValidationError } from '../../../kernel/errors.ts';
import type { ModuleRuntime } from '../../../kernel/plugin.ts';
import { IngestionWriter } from '../service/ingestion-writer.ts';
import {
  type Endpoint,
  MAX_BATCH_BYTES,
  MAX_CALL_BYTES,
  parseTrackingRequest,
} from '../service/tracking-calls.ts';
import { type WriteKeyHolder, writeKeyAuthenticatorOf } from '../service/write-keys.ts';

/** Segment's HTTP tracking API paths, with the one-letter aliases its clients may use. */
const endpoints: [Endpoint, string][] = [
  ['track', 't'],
  ['identify', 'i'],
  ['page', 'p'],
  ['screen', 's'],
  ['group', 'g'],
  ['alias', 'a'],
  ['batch', 'b'],
];

/**
 * `POST /v1/track|identify|page|screen|group|alias|batch`, compatible with Segment's HTTP
 * tracking API: write key as the Basic user name, 32 KB per call, 500 KB per batch,
 * `200 {"success": true}` only after the commit. Every refusal is JSON `{ error, code }`.
 */
export function ingestionRoutes(router: Router, runtime: ModuleRuntime): void {
  const writeKeys = writeKeyAuthenticatorOf(runtime.orm);
  const limiter = new RateLimiter(runtime.settings.INGEST_RATE_PER_SECOND);
  const addressLimiter = new RateLimiter(runtime.settings.INGEST_RATE_PER_ADDRESS_PER_SECOND);
  const writer = new IngestionWriter(runtime.orm);
  for (const [endpoint, alias] of endpoints) {
    const paths = [`/v1/${endpoint}`, `/v1/${alias}`];
    // Web pages send events straight from the browser (analytics.js); there a write key is public anyway.
    router.options(paths, (ctx) => {
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.set('Access-Control-Allow-Methods', 'POST');
      ctx.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
      ctx.set('Access-Control-Max-Age', '86400');
      ctx.status = 204;
    });
    router.post(paths, async (ctx) => {
      ctx.set('Access-Control-Allow-Origin', '*');
      // Before the write key is looked up: one address cannot flood us with guessed keys.
      const addressWait = addressLimiter.take(ctx.ip);
      if (addressWait > 0) {
        ctx.set('Retry-After', String(Math.max(1, Math.ceil(addressWait))));
        refuse(ctx, 429, 'RATE_LIMITED', 'too many requests from this address; retry later');
        return;
      }
      const holder = await authenticate(ctx, writeKeys);
      if (!holder) return;
      const wait = limiter.take(holder.id);
      if (wait > 0) {
        ctx.set('Retry-After', String(Math.max(1, Math.ceil(wait))));
        refuse(ctx, 429, 'RATE_LIMITED', 'too many requests for this write key; retry later');
        return;
      }
      try {
        const calls = await readCalls(ctx, endpoint);
        await writer.write(holder.workspaceId, calls);
        ctx.body = { success: true };
      } catch (error) {
        answerFailure(ctx, error, runtime);
      }
    });
  }
}

async function authenticate(
  ctx: Context,
  writeKeys: ReturnType<typeof writeKeyAuthenticatorOf>,
): Promise<WriteKeyHolder | null> {
  const header = ctx.get('authorization');
  const match = /^Basic\s+(\S+)$/i.exec(header);
  const key = match
    ? Buffer.from(match[1] as string, 'base64')
        .toString('utf8')
        .split(':')[0]
    : '';
  let problem: string | null = null;
  if (!key) problem = 'a write key is required: send it as the HTTP Basic user name with an empty password';
  const holder = key ? await writeKeys.authenticate(key) : null;
  if (key && !holder) problem = 'unknown write key';
  else if (holder?.revoked) problem = 'this write key was revoked';
  if (problem) {
    ctx.set('WWW-Authenticate', 'Basic realm="Atrium tracking API"');
    refuse(ctx, 401, 'UNAUTHENTICATED', problem);
    return null;
  }
  return holder;
}

async function readCalls(ctx: Context, endpoint: Endpoint) {
  const receivedAt = new Date();
  const encoding = ctx.get('content-encoding');
  if (encoding && encoding !== 'identity') {
    throw new ValidationError(`Content-Encoding ${encoding} is not supported; send plain JSON`);
  }
  const raw = await readBody(ctx.req, endpoint === 'batch' ? MAX_BATCH_BYTES : MAX_CALL_BYTES);
  const text = raw.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new MalformedJsonError((error as Error).message);
  }
  // PostgreSQL's jsonb cannot hold a NUL character; refuse it here with a clear answer.
  if (text.includes('\\u0000')) throw new ValidationError('the request holds a \\u0000 character');
  return parseTrackingRequest(body, endpoint, receivedAt, raw.length);
}

class MalformedJsonError extends Error {}

function answerFailure(ctx: Context, error: unknown, runtime: ModuleRuntime): void {
  const code = (error as { code?: unknown }).code;
  if (error instanceof BodyTooLargeError) {
    // The rest of the body is not read: close the connection rather than drain it.
    ctx.set('Connection', 'close');
    refuse(ctx, 400, 'TOO_LARGE', error.message);
  } else if (error instanceof MalformedJsonError) {
    refuse(ctx, 400, 'MALFORMED_JSON', `the request body is not valid JSON: ${error.message}`);
  } else if (error instanceof ValidationError) {
    refuse(ctx, 400, error.code, error.message, error.field);
  } else if (typeof code === 'string' && code.startsWith('22')) {
    // Class 22 is PostgreSQL's "data exception": a value it cannot store, so the input's fault.
    refuse(ctx, 400, 'VALIDATION_FAILED', `a value cannot be stored: ${(error as Error).message}`);
  } else {
    runtime.logger.error({ err: error }, 'ingestion failed');
    refuse(ctx, 500, 'INTERNAL', 'the events could not be stored; nothing was written, retry later');
  }
}

function refuse(ctx: Context, status: number, code: string, error: string, field?: string | null): void {
  ctx.status = status;
  ctx.body = field ? { success: false, error, code, field } : { success: false, error, code };
}
