import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnauthenticatedError } from '../kernel/errors.ts';
import { decodeJwt, encodeSegment } from './jwt.ts';
import type { TokenVerifier, VerifiedToken } from './principal.ts';

export const DEV_ISSUER = 'atrium-dev';

/**
 * The dev-token secret lives beside the embedded database so that `atrium token` and a
 * running `atrium start` agree without configuration. Dev tokens never work in production.
 */
export function devTokenSecret(dataDir: string): Buffer {
  const file = join(dataDir, 'dev-token-secret');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { flag: 'wx' });
    chmodSync(file, 0o600);
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

export interface DevTokenInput {
  role: string;
  workspace: string;
  subject?: string;
  ttlSeconds?: number;
}

export function signDevToken(secret: Buffer, input: DevTokenInput): string {
  const now = Math.floor(Date.now() / 1000);
  const head = encodeSegment({ alg: 'HS256', typ: 'JWT' });
  const body = encodeSegment({
    iss: DEV_ISSUER,
    sub: input.subject ?? `dev-${input.role}`,
    workspace: input.workspace,
    roles: [input.role],
    iat: now,
    exp: now + (input.ttlSeconds ?? 12 * 3600),
  });
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

export class DevTokenVerifier implements TokenVerifier {
  readonly #secret: Buffer;
  constructor(secret: Buffer) {
    this.#secret = secret;
  }

  accepts(issuer: string): boolean {
    return issuer === DEV_ISSUER;
  }

  async verify(token: string): Promise<VerifiedToken> {
    const [head, body, signature] = token.split('.');
    const expected = createHmac('sha256', this.#secret).update(`${head}.${body}`).digest();
    const given = Buffer.from(signature ?? '', 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new UnauthenticatedError('invalid token (signature)');
    }
    const decoded = decodeJwt(token);
    const claims = decoded?.claims ?? {};
    if (decoded?.header.alg !== 'HS256') throw new UnauthenticatedError('invalid token (algorithm)');
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) {
      throw new UnauthenticatedError('invalid token (expired)');
    }
    if (typeof claims.workspace !== 'string' || typeof claims.sub !== 'string') {
      throw new UnauthenticatedError('invalid token (workspace or subject missing)');
    }
    const roles = Array.isArray(claims.roles)
      ? claims.roles.filter((r): r is string => typeof r === 'string')
      : [];
    return { subject: claims.sub, workspaceSlug: claims.workspace, roles, kind: 'dev' };
  }
}
