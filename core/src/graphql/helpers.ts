/** GraphQL enum values from a list of strings: `pending` is shown as `PENDING` and resolves to 'pending'. */
export function enumValues<T extends string>(values: readonly T[]): Record<string, { value: T }> {
  return Object.fromEntries(values.map((v) => [v.toUpperCase(), { value: v }])) as Record<
    string,
    { value: T }
  >;
}

/** The caller's workspace id, for fields behind a scope: a scoped caller always has a workspace. */
export function workspaceIdOf(ctx: { workspace: { id: string } | null }): string {
  if (!ctx.workspace) throw new Error('an authenticated request always has a workspace');
  return ctx.workspace.id;
}
