import type { Scope } from './scopes.ts';

/** Who is calling, after their credential was verified. */
export interface Principal {
  kind: 'user' | 'service' | 'api-key' | 'dev';
  subject: string;
  /** The workspace slug the credential is bound to. */
  workspaceSlug: string;
  scopes: Scope[];
}

/** What a token verifier vouches for; the workspace and roles come from its claims. */
export interface VerifiedToken {
  subject: string;
  workspaceSlug: string;
  roles: string[];
  kind: Principal['kind'];
}

/** The port every bearer-token verifier implements, so the OIDC library is one file. */
export interface TokenVerifier {
  /** True when this verifier is responsible for a token from `issuer`. */
  accepts(issuer: string): boolean;
  verify(token: string): Promise<VerifiedToken>;
}
