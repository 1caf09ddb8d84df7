import type { MikroORM } from '@mikro-orm/postgresql';
import { UnauthenticatedError } from '../kernel/errors.ts';
import { authenticateApiKey, looksLikeApiKey } from '../modules/api-keys/service.ts';
import {
  authenticateCustomerSession,
  looksLikeCustomerSession,
} from '../modules/customer-sessions/service.ts';
import { decodeJwt } from './jwt.ts';
import type { Principal, TokenVerifier } from './principal.ts';
import { scopesForRoles } from './scopes.ts';

/**
 * Turns the request's credential into a Principal. No credential is not an error here
 * (public fields exist); a credential that fails any check is, with the reason.
 */
export class Authenticator {
  readonly #verifiers: TokenVerifier[];
  readonly #orm: MikroORM;

  constructor(verifiers: TokenVerifier[], orm: MikroORM) {
    this.#verifiers = verifiers;
    this.#orm = orm;
  }

  async authenticate(headers: { authorization?: string; 'x-api-key'?: string }): Promise<Principal | null> {
    const credential = credentialOf(headers);
    if (!credential) return null;
    if (looksLikeApiKey(credential)) {
      const principal = await authenticateApiKey(this.#orm.em.fork(), credential);
      if (!principal) throw new UnauthenticatedError('invalid API key (unknown or revoked)');
      return principal;
    }
    if (looksLikeCustomerSession(credential)) {
      const principal = await authenticateCustomerSession(this.#orm.em.fork(), credential);
      if (typeof principal === 'string') {
        throw new UnauthenticatedError(`invalid customer session (${principal})`);
      }
      return principal;
    }
    const issuer = decodeJwt(credential)?.claims.iss;
    if (typeof issuer !== 'string') throw new UnauthenticatedError('invalid token (not a JWT)');
    const verifier = this.#verifiers.find((v) => v.accepts(issuer));
    if (!verifier) throw new UnauthenticatedError('invalid token (wrong issuer)');
    const verified = await verifier.verify(credential);
    return {
      kind: verified.kind,
      subject: verified.subject,
      workspaceSlug: verified.workspaceSlug,
      scopes: scopesForRoles(verified.roles),
    };
  }
}

function credentialOf(headers: { authorization?: string; 'x-api-key'?: string }): string | null {
  const apiKey = headers['x-api-key']?.trim();
  if (apiKey) return apiKey;
  const authorization = headers.authorization?.trim();
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!match?.[1]) throw new UnauthenticatedError('the Authorization header must be "Bearer <token>"');
  return match[1];
}
