import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
} from 'graphql';
import { type Scope, scopeNames } from '../auth/scopes.ts';

/** Who calls: a staff role's token, a customer session, or nobody. */
export type Caller = Scope | 'customer' | 'anonymous';
export const callers: readonly Caller[] = [...scopeNames, 'customer', 'anonymous'];

export type Graph = 'admin' | 'public';
/** `Query.viewer`, `Mutation.createApiKey`, `Subscription.inboxEvents`. */
export type RootFieldKey = `${'Query' | 'Mutation' | 'Subscription'}.${string}`;
/** Per graph, per root field: the callers that may call it; every other caller must be refused. */
export type AuthorizationMatrix = Record<Graph, Record<RootFieldKey, readonly Caller[]>>;

export interface RootField {
  graph: Graph;
  key: RootFieldKey;
  operation: 'query' | 'mutation' | 'subscription';
  field: GraphQLField<unknown, unknown>;
}

/** Every root field of a schema: what the matrix must have a decision for. */
export function rootFieldsOf(schema: GraphQLSchema, graph: Graph): RootField[] {
  const roots = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ] as const;
  return roots.flatMap(([operation, type]) =>
    type
      ? Object.values(type.getFields()).map((field) => ({
          graph,
          operation,
          key: `${type.name}.${field.name}` as RootFieldKey,
          field,
        }))
      : [],
  );
}

const FAKE_UUID = '00000000-0000-4000-8000-00000000f00d';

/** A value of the right type for a required input: enough to pass validation and reach the field. */
function placeholder(type: GraphQLInputType, extensions: Record<string, unknown> = {}): unknown {
  if (isNonNullType(type)) return placeholder(type.ofType, extensions);
  if (isListType(type)) return [];
  if (isEnumType(type)) return type.getValues()[0]?.name;
  if (isInputObjectType(type)) {
    return Object.fromEntries(
      Object.values(type.getFields())
        .filter((f) => isNonNullType(f.type) && f.defaultValue === undefined)
        .map((f) => [f.name, placeholder(f.type, f.extensions)]),
    );
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'ID': {
        // A global id of the type the argument is for (relay checks the type before anything else).
        const target = (extensions.relayGlobalIDFor as { typename: string }[] | undefined)?.[0]?.typename;
        return Buffer.from(`${target ?? 'ApiKey'}:${FAKE_UUID}`).toString('base64');
      }
      case 'Int':
      case 'Float':
        return 1;
      case 'Boolean':
        return false;
      case 'DateTime':
        return new Date().toISOString();
      case 'JSON':
        return {};
      default:
        return 'x';
    }
  }
  return null;
}

/** The cheapest document that calls `field`: required arguments as variables, `__typename` only. */
export function probeDocument(root: RootField): { query: string; variables: Record<string, unknown> } {
  const required = root.field.args.filter(
    (a: GraphQLArgument) => isNonNullType(a.type) && a.defaultValue === undefined,
  );
  const declarations = required.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = isCompositeType(getNamedType(root.field.type)) ? ' { __typename }' : '';
  const query = `${root.operation} Probe${declarations ? `(${declarations})` : ''} { ${root.field.name}${
    args ? `(${args})` : ''
  }${selection} }`;
  return {
    query,
    variables: Object.fromEntries(required.map((a) => [a.name, placeholder(a.type, a.extensions)])),
  };
}

export type ProbeOutcome = { allowed: boolean } | { problem: string };

interface ErrorLike {
  message: string;
  path?: unknown[];
  extensions?: { code?: string };
}

/** The scope check's refusals (core/src/graphql/builder.ts), not a domain rule's FORBIDDEN. */
const scopeRefusal = (e: ErrorLike) =>
  (e.extensions?.code === 'FORBIDDEN' && e.message.startsWith('Not allowed: ')) ||
  (e.extensions?.code === 'UNAUTHENTICATED' && e.message.startsWith('Not authenticated: '));

/** Refused: HTTP 401/403, or the scope check's error. A request-level error is a broken probe. */
function classify(status: number, errors: ErrorLike[] | undefined): ProbeOutcome {
  if (status === 401 || status === 403) return { allowed: false };
  if (errors?.some(scopeRefusal)) return { allowed: false };
  const requestLevel = errors?.find((e) => !e.path);
  if (requestLevel) return { problem: `the probe did not reach the field: ${requestLevel.message}` };
  return { allowed: true };
}

/**
 * Calls a root field as one caller. Subscriptions are read as server-sent events: a refusal comes
 * at once; a stream that stays open without an error for `subscriptionWaitMs` was let through.
 */
export async function probe(
  url: string,
  root: RootField,
  headers: Record<string, string>,
  subscriptionWaitMs = 1000,
): Promise<ProbeOutcome> {
  const body = JSON.stringify(probeDocument(root));
  if (root.operation !== 'subscription') {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body,
    });
    const json = (await response.json()) as { errors?: ErrorLike[] };
    return classify(response.status, json.errors);
  }
  const abort = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body,
    signal: abort.signal,
  });
  if (!response.body || !response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const json = (await response.json().catch(() => ({}))) as { errors?: ErrorLike[] };
    return classify(response.status, json.errors);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const timer = setTimeout(() => abort.abort(), subscriptionWaitMs);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      const data = /^data: (.+)$/m.exec(text);
      if (data?.[1]) {
        const event = JSON.parse(data[1]) as { errors?: ErrorLike[] };
        return classify(response.status, event.errors);
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return { allowed: true };
}

export interface MatrixCheck {
  schemas: Record<Graph, GraphQLSchema>;
  matrix: AuthorizationMatrix;
  /** The base URL of a running server. */
  url: string;
  /** Headers that make a request come from `caller` (none for anonymous). */
  headersFor(caller: Caller): Promise<Record<string, string>>;
  /** Call only these fields (the entries of every field are still checked); default: all. */
  probeOnly?: (key: RootFieldKey) => boolean;
}

/**
 * Compares every root field of both graphs with the matrix: a field without an entry, an entry
 * without a field, and every caller whose real answer differs from the entry is a problem.
 */
export async function checkAuthorizationMatrix(check: MatrixCheck): Promise<string[]> {
  const problems: string[] = [];
  const path = { admin: '/graphql', public: '/public/graphql' } as const;
  for (const graph of ['admin', 'public'] as const) {
    const fields = rootFieldsOf(check.schemas[graph], graph);
    const expected = check.matrix[graph];
    for (const stale of Object.keys(expected).filter((k) => !fields.some((f) => f.key === k))) {
      problems.push(`${graph} graph: ${stale} has an entry in the matrix but is not in the schema`);
    }
    for (const root of fields) {
      const allowedCallers = expected[root.key];
      if (!allowedCallers) {
        problems.push(
          `${graph} graph: ${root.key} has no entry in the authorization matrix: decide which callers may call it`,
        );
        continue;
      }
      if (check.probeOnly && !check.probeOnly(root.key)) continue;
      const outcomes = await Promise.all(
        callers.map(
          async (caller) =>
            [
              caller,
              await probe(`${check.url}${path[graph]}`, root, await check.headersFor(caller)),
            ] as const,
        ),
      );
      for (const [caller, outcome] of outcomes) {
        if ('problem' in outcome) {
          problems.push(`${graph} graph: ${root.key} as ${caller}: ${outcome.problem}`);
          continue;
        }
        const shouldAllow = allowedCallers.includes(caller);
        if (outcome.allowed !== shouldAllow) {
          problems.push(
            `${graph} graph: ${root.key} as ${caller}: expected ${shouldAllow ? 'allowed' : 'refused'}, was ${
              outcome.allowed ? 'allowed' : 'refused'
            }`,
          );
        }
      }
    }
  }
  return problems;
}
