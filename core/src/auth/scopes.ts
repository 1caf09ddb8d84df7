/** The roles Keycloak grants and the GraphQL scopes they become. */
export const scopeNames = ['admin', 'editor', 'agent', 'analyst', 'viewer'] as const;
export type Scope = (typeof scopeNames)[number];

/** A role carries its own scope and the ones beneath it; admin holds every scope. */
const impliedScopes: Record<Scope, readonly Scope[]> = {
  admin: scopeNames,
  editor: ['editor', 'viewer'],
  agent: ['agent', 'viewer'],
  analyst: ['analyst', 'viewer'],
  viewer: ['viewer'],
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
