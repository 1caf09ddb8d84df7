import { createRequire } from 'node:module';
import { UnauthenticatedError } from '../kernel/errors.ts';
import type { TokenVerifier, VerifiedToken } from './principal.ts';

// keycloak-connect is CommonJS without typings for its auth utilities; we use only these two.
const require = createRequire(import.meta.url);
const GrantManager = require('keycloak-connect/middleware/auth-utils/grant-manager') as new (
  config: Record<string, unknown>,
) => { validateToken(token: unknown, expectedType: string): Promise<{ content: Record<string, unknown> }> };
const Token = require('keycloak-connect/middleware/auth-utils/token') as new (
  raw: string,
  clientId: string,
) => { content: Record<string, unknown> };

export interface KeycloakVerifierOptions {
  /** The realm URL, which is also the tokens' issuer: https://host/realms/<realm>. */
  issuerUrl: string;
  audience: string;
  workspaceClaim: string;
  /** Seconds between fetches of the realm's keys when an unknown key id shows up. */
  minSecondsBetweenKeyFetches?: number;
}

/**
 * Verifies Keycloak access tokens with keycloak-connect's GrantManager (signature against
 * the realm's rotating keys, expiry, issuer, token type). Audience, workspace and roles are
 * checked here, so replacing the library with a plain JWKS verifier touches only this file.
 */
export class KeycloakTokenVerifier implements TokenVerifier {
  readonly #options: KeycloakVerifierOptions;
  readonly #grants: InstanceType<typeof GrantManager>;

  constructor(options: KeycloakVerifierOptions) {
    this.#options = { ...options, issuerUrl: options.issuerUrl.replace(/\/+$/, '') };
    this.#grants = new GrantManager({
      realmUrl: this.#options.issuerUrl,
      clientId: options.audience,
      bearerOnly: true,
      verifyTokenAudience: false,
      minTimeBetweenJwksRequests: options.minSecondsBetweenKeyFetches ?? 10,
    });
  }

  accepts(issuer: string): boolean {
    return issuer === this.#options.issuerUrl;
  }

  async verify(raw: string): Promise<VerifiedToken> {
    let claims: Record<string, unknown>;
    try {
      claims = (await this.#grants.validateToken(new Token(raw, this.#options.audience), 'Bearer')).content;
    } catch (error) {
      // keycloak-connect's messages ("invalid token (expired)") are safe and useful to callers.
      const reason = error instanceof Error ? error.message : 'invalid token';
      throw new UnauthenticatedError(
        reason.startsWith('invalid token') ? reason : `invalid token (${reason})`,
      );
    }
    // keycloak-connect lets a token without `exp` through; a bearer token must expire.
    if (typeof claims.exp !== 'number') throw new UnauthenticatedError('invalid token (no expiry)');
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.#options.audience) && claims.azp !== this.#options.audience) {
      throw new UnauthenticatedError('invalid token (wrong audience)');
    }
    const workspace = claims[this.#options.workspaceClaim];
    if (typeof workspace !== 'string' || workspace === '') {
      throw new UnauthenticatedError(`invalid token (no "${this.#options.workspaceClaim}" claim)`);
    }
    const username = typeof claims.preferred_username === 'string' ? claims.preferred_username : '';
    return {
      subject: String(claims.sub ?? username),
      workspaceSlug: workspace,
      roles: rolesOf(claims, this.#options.audience),
      kind: username.startsWith('service-account-') ? 'service' : 'user',
    };
  }
}

/** Realm roles plus the roles of our own client. */
function rolesOf(claims: Record<string, unknown>, clientId: string): string[] {
  const realm = (claims.realm_access as { roles?: unknown } | undefined)?.roles;
  const resource = claims.resource_access as Record<string, { roles?: unknown }> | undefined;
  const client = resource?.[clientId]?.roles;
  return [...(Array.isArray(realm) ? realm : []), ...(Array.isArray(client) ? client : [])].filter(
    (r): r is string => typeof r === 'string',
  );
}
