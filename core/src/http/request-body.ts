import type { IncomingMessage } from 'node:http';

/** The body was longer than allowed; reading stopped at the limit. */
export class BodyTooLargeError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`the request body is larger than ${Math.round(limit / 1024)} KB`);
    this.limit = limit;
  }
}

/**
 * Reads a request body, refusing it as soon as it passes `limit` bytes (or announces more in
 * Content-Length), so a hostile client cannot make us buffer an unbounded body.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const announced = Number(req.headers['content-length']);
  if (announced > limit) throw new BodyTooLargeError(limit);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
}
