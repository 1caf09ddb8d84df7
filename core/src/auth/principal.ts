import type { CallerScope } from './scopes.ts';

/** Who is calling, after their credential was verified. */
export interface Principal {
  /** `customer`: a customer session (`cst_…`); every other kind is staff or a machine. */
  kind: 'user' | 'service' | 'api-key' | 'dev' | 'customer';
  subject: string;
  /** The workspace slug the credential is bound to. */
  workspaceSlug: string;
  scopes: CallerScope[];
  /** The customer's profile; set for `customer` principals only (after merges, the surviving profile). */
  profileId?: string;
  /** The customer session's id; set for `customer` principals only. */
  sessionId?: string;
}

/** What a token verifier vouches for; the workspace and roles come from its claims. */
export interface VerifiedToken {
  subject: string;
  workspaceSlug: string;
  roles: string[];
  kind: Exclude<Principal['kind'], 'customer'>;
}

/** The port every bearer-token verifier implements, so the OIDC library is one file. */
export interface TokenVerifier {
  /** True when this verifier is responsible for a token from `issuer`. */
  accepts(issuer: string): boolean;
  verify(token: string): Promise<VerifiedToken>;
}
