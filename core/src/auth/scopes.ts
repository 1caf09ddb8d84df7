/** The roles Keycloak grants and the GraphQL scopes they become. */
export const scopeNames = ['admin', 'editor', 'reviewer', 'agent', 'analyst', 'viewer', 'reader'] as const;
export type Scope = (typeof scopeNames)[number];

/**
 * A customer acting for themself through a customer session (web chat, self-service). No role
 * grants it, not even admin: staff never act as a customer, and a customer holds no staff scope.
 */
export const CUSTOMER_SCOPE = 'customer';
/** What a caller may hold: a staff scope from its roles, or the customer scope of a customer session. */
export type CallerScope = Scope | typeof CUSTOMER_SCOPE;

/**
 * A role carries its own scope and the ones beneath it; admin holds every scope. `reviewer`
 * approves content; `reader` only reads published public content (a frontend's public key).
 */
const impliedScopes: Record<Scope, readonly Scope[]> = {
  admin: scopeNames,
  editor: ['editor', 'viewer', 'reader'],
  reviewer: ['reviewer', 'viewer', 'reader'],
  agent: ['agent', 'viewer', 'reader'],
  analyst: ['analyst', 'viewer', 'reader'],
  viewer: ['viewer', 'reader'],
  reader: ['reader'],
};

export function isScope(value: string): value is Scope {
  return (scopeNames as readonly string[]).includes(value);
}

/** Unknown roles are ignored: Keycloak tokens carry many roles that mean nothing here. */
export function scopesForRoles(roles: Iterable<string>): Scope[] {
  const granted = new Set<Scope>();
  for (const role of roles) {
    if (isScope(role)) for (const scope of impliedScopes[role]) granted.add(scope);
  }
  return scopeNames.filter((s) => granted.has(s));
}
