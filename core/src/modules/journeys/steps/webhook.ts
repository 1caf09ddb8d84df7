import { defineStep } from './step.ts';

export const CALL_WEBHOOK_JOB = 'journeys.call-webhook';
export interface CallWebhookJob {
  workspaceId: string;
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  idempotencyKey: string;
}

/**
 * Posts the profile's id, the journey and the step's body to a URL (a CRM, a loyalty system).
 * The call is queued in the engine's transaction and made by a job with retries, carrying an
 * `Idempotency-Key` that stays the same across retries, so the receiver can drop repeats.
 */
export const callWebhookStep = defineStep({
  code: 'call-webhook',
  label: 'Call webhook',
  description: 'POSTs JSON to a URL, retried until it answers 2xx',
  args: {
    url: { type: 'string', label: 'URL (https)', ui: 'url' },
    body: { type: 'json', label: 'Extra body fields', required: false },
    headers: { type: 'json', label: 'Headers (e.g. Authorization)', required: false },
  },
  outcomes: () => ['next'],
  check: (args) => {
    try {
      const url = new URL(args.url);
      if (url.protocol !== 'https:' && url.protocol !== 'http:')
        return { arg: 'url', message: 'must be http or https' };
    } catch {
      return { arg: 'url', message: 'is not a URL' };
    }
    const headers = args.headers ?? {};
    if (
      typeof headers !== 'object' ||
      Array.isArray(headers) ||
      Object.values(headers).some((v) => typeof v !== 'string')
    ) {
      return { arg: 'headers', message: 'must map header names to strings' };
    }
    // Refused when the journey is saved, not retried five times when it runs.
    if (args.body != null && (typeof args.body !== 'object' || Array.isArray(args.body)))
      return { arg: 'body', message: 'must be an object of extra fields' };
    return null;
  },
  fn: async (args, ctx) => {
    if (ctx.dryRun) return { outcome: 'next', note: `would POST to ${new URL(args.url).host}` };
    const body = args.body ?? {};
    await ctx.runtime.jobs.send(
      CALL_WEBHOOK_JOB,
      {
        workspaceId: ctx.workspaceId,
        url: args.url,
        headers: (args.headers as Record<string, string> | undefined) ?? {},
        body: {
          ...(body as Record<string, unknown>),
          profileId: ctx.enrollment.profileId,
          journeyId: ctx.enrollment.journeyId,
          enrollmentId: ctx.enrollment.id,
        },
        idempotencyKey: ctx.idempotencyKey,
      } satisfies CallWebhookJob,
      { em: ctx.em },
    );
    return { outcome: 'next', note: `queued a POST to ${new URL(args.url).host}` };
  },
});
