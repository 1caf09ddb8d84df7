import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The user hash a site's backend computes after its own login, so that the widget can prove
 * who the visitor is: hex HMAC-SHA256 of the user id, keyed with the inbox secret. The secret
 * never reaches the browser, so a visitor cannot make the hash of someone else's id.
 */
export function userHashOf(userId: string, inboxSecret: string): string {
  return createHmac('sha256', inboxSecret).update(userId, 'utf8').digest('hex');
}

/** Constant-time comparison, case-insensitive hex. */
export function verifyUserHash(userId: string, userHash: string, inboxSecret: string): boolean {
  const expected = Buffer.from(userHashOf(userId, inboxSecret), 'hex');
  const given = /^[0-9a-f]{64}$/i.test(userHash) ? Buffer.from(userHash, 'hex') : null;
  return given !== null && timingSafeEqual(expected, given);
}
