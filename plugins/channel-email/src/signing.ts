import { createHmac, timingSafeEqual } from 'node:crypto';
import { type WebhookRequest, WebhookSignatureError } from '@atrium/core';

export const TIMESTAMP_HEADER = 'x-atrium-timestamp';
export const SIGNATURE_HEADER = 'x-atrium-signature';
/** A signed mail older (or newer) than this is refused: a captured request cannot be replayed later. */
export const TOLERANCE_SECONDS = 300;

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw MIME>">`, keyed with the inbox secret. */
export function signInboundMail(secret: string, timestamp: number, body: Uint8Array | string): string {
  const hmac = createHmac('sha256', secret).update(`${timestamp}.`).update(body);
  return `sha256=${hmac.digest('hex')}`;
}

/** The two headers a forwarder sends with one mail. */
export function inboundMailHeaders(
  secret: string,
  body: Uint8Array | string,
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return {
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: signInboundMail(secret, timestamp, body),
  };
}

/**
 * Throws WebhookSignatureError unless the request carries a signature of its exact bytes made
 * with the inbox secret, and a timestamp within five minutes of now. Compared in constant time.
 */
export function verifyInboundMail(
  request: WebhookRequest,
  secret: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): void {
  const timestamp = request.headers[TIMESTAMP_HEADER];
  const signature = request.headers[SIGNATURE_HEADER];
  if (!timestamp || !signature) {
    throw new WebhookSignatureError(`sign the mail: send ${TIMESTAMP_HEADER} and ${SIGNATURE_HEADER}`);
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new WebhookSignatureError(`${TIMESTAMP_HEADER} must be Unix seconds`);
  }
  // Both ways: a stale timestamp is a replay, a future one a forged clock.
  if (Math.abs(nowSeconds - Number(timestamp)) > TOLERANCE_SECONDS) {
    throw new WebhookSignatureError(
      `${TIMESTAMP_HEADER} is more than ${TOLERANCE_SECONDS} seconds from the server's clock`,
    );
  }
  const expected = Buffer.from(signInboundMail(secret, Number(timestamp), request.rawBody));
  const given = Buffer.from(signature.trim().toLowerCase());
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new WebhookSignatureError(`${SIGNATURE_HEADER} does not match the body and the inbox secret`);
  }
}
