import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import type { AtriumPlugin } from './plugin.ts';

const flag = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1')
  .or(z.boolean());

/**
 * Every setting Atrium reads from the environment. Names are the environment variables
 * so that an error message names exactly what the operator has to fix.
 */
const settingsSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Absent: Atrium runs on its embedded PGlite under ATRIUM_DATA_DIR. */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(2).max(200).default(10),
  ATRIUM_DATA_DIR: z.string().min(1).default('.atrium'),
  /** Keycloak realm URL, e.g. https://sso.example.com/realms/atrium. */
  AUTH_ISSUER_URL: z.url().optional(),
  /** The audience (client id) an access token must carry. */
  AUTH_AUDIENCE: z.string().min(1).optional(),
  /** The token claim that names the caller's workspace (a Keycloak user-attribute mapper). */
  AUTH_WORKSPACE_CLAIM: z.string().min(1).default('workspace'),
  /** Least seconds between fetches of the realm's keys when a token names an unknown key. */
  AUTH_KEYS_MIN_REFRESH_S: z.coerce.number().int().min(0).max(3600).default(10),
  /** Locally signed tokens for development; refused in production. */
  AUTH_DEV_TOKENS: flag.optional(),
  /** Hours a customer session (`cst_…`: web chat, self-service) lasts after it was opened. */
  CUSTOMER_SESSION_TTL_HOURS: z.coerce.number().int().min(1).max(720).default(24),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).max(50).default(12),
  GRAPHQL_MAX_COMPLEXITY: z.coerce.number().int().min(10).max(100000).default(2000),
  GRAPHQL_MAX_BREADTH: z.coerce.number().int().min(5).max(10000).default(200),
  /** Largest GraphQL request body in bytes; a longer one is answered 413 before it is parsed. */
  GRAPHQL_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(50 * 1024 * 1024)
    .default(1024 * 1024),
  /** Most lexical tokens in one GraphQL document (directive and alias floods stop at parsing). */
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  /** Public graph requests per second per client address and process (a token bucket; 429 beyond). */
  PUBLIC_GRAPHQL_RATE_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(100),
  /**
   * Admin graph requests per second per credential and process; anonymous requests and refused
   * credentials count against the client address at the same rate (a token bucket; 429 beyond).
   */
  ADMIN_GRAPHQL_RATE_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(50),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600000).default(15000),
  OUTBOX_RETRY_LIMIT: z.coerce.number().int().min(0).max(50).default(5),
  OUTBOX_RETRY_DELAY_S: z.coerce.number().int().min(1).max(3600).default(2),
  /** How often a worker looks for unpublished outbox events written by other processes. */
  OUTBOX_POLL_MS: z.coerce.number().int().min(50).max(60000).default(500),
  /** An event delivery still active after this long is taken to be from a dead worker and retried. */
  JOBS_EXPIRE_S: z.coerce.number().int().min(1).max(86400).default(300),
  /** Days a fully delivered domain event is kept before the hourly cleanup removes it. */
  OUTBOX_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
  /** Days an audit entry is kept before the hourly cleanup removes it. */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(365),
  /** Event deliveries one worker process runs at once. */
  OUTBOX_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
  JOBS_SUPERVISE_INTERVAL_S: z.coerce.number().int().min(1).max(3600).default(30),
  /** Tracking API requests per second per write key and process (a token bucket; 429 beyond). */
  INGEST_RATE_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(2000),
  /** Tracking API requests per second per client address and process, counted before the write key is checked. */
  INGEST_RATE_PER_ADDRESS_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(2000),
  /** Where links in llms.txt, sitemaps and JSON-LD point: this server as the public reaches it. */
  PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).default('http://localhost:4000'),
  /** Machine-readable content requests (JSON-LD, llms.txt, sitemap) per second per client address. */
  PUBLIC_CONTENT_RATE_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(20),
  /**
   * Let journey webhook steps call loopback and private addresses. Off by default: a journey
   * author must not be able to reach the cluster's internal services (SSRF).
   */
  EGRESS_ALLOW_PRIVATE_NETWORKS: flag.default(false),
  /** Service level of a new conversation: minutes until the first agent reply is due. */
  CONVERSATION_FIRST_RESPONSE_MINUTES: z.coerce.number().int().min(1).max(100_000).default(60),
  /** Service level of a new conversation: hours until it should be resolved. */
  CONVERSATION_RESOLUTION_HOURS: z.coerce.number().int().min(1).max(10_000).default(24),
  /** Retries of an outbound message after its first attempt, before it is marked failed. */
  CONVERSATION_DELIVERY_RETRIES: z.coerce.number().int().min(0).max(20).default(5),
  /** Seconds before the first retry of an outbound message; each further retry waits twice as long (max 300 s). */
  CONVERSATION_DELIVERY_RETRY_DELAY_S: z.coerce.number().int().min(1).max(3600).default(5),
  /** Where search documents live: PostgreSQL full-text search (default) or a Meilisearch server. */
  SEARCH_ENGINE: z.enum(['postgres', 'meilisearch']).default('postgres'),
  /** The Meilisearch server, e.g. http://meilisearch:7700; required when SEARCH_ENGINE=meilisearch. */
  MEILI_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Meilisearch's API key (a secret: never logged). */
  MEILI_API_KEY: z.string().min(1).optional(),
  /** The Ollama server, e.g. http://ollama:11434. Absent: no LLM; the assistant answers extractively. */
  OLLAMA_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** The chat model on that server (it must be pulled or created there; /readyz checks). */
  OLLAMA_MODEL: z.string().min(1).default('llama3.2'),
  /** An embedding model on that server for semantic retrieval; absent: full-text search only. */
  OLLAMA_EMBED_MODEL: z.string().min(1).optional(),
  /** Longest an LLM call (a whole chat answer, an embedding) may take before it is aborted. */
  LLM_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
});

type RawSettings = z.infer<typeof settingsSchema>;

export interface Settings extends Omit<RawSettings, 'AUTH_DEV_TOKENS'> {
  AUTH_DEV_TOKENS: boolean;
}

export interface AtriumConfig {
  settings: Settings;
  plugins: AtriumPlugin[];
}

/** What `atrium.config.ts` exports: plugins, and settings the environment may override. */
export interface AtriumConfigFile {
  plugins?: AtriumPlugin[];
  settings?: Partial<Record<keyof RawSettings, string | number | boolean>>;
}

export function defineConfig(config: AtriumConfigFile): AtriumConfigFile {
  return config;
}

/** Validates settings: the environment wins over the config file; the first problem stops boot. */
export function parseSettings(
  env: Record<string, string | undefined>,
  fileSettings: AtriumConfigFile['settings'] = {},
): Settings {
  const merged: Record<string, unknown> = { ...fileSettings };
  for (const key of Object.keys(settingsSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') merged[key] = value;
  }
  const parsed = settingsSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const setting = String(issue?.path[0] ?? 'configuration');
    const got = merged[setting];
    const shown = got === undefined ? '' : ` (got ${JSON.stringify(isSecret(setting) ? '***' : got)})`;
    throw new ConfigError(setting, `${issue?.message ?? 'invalid'}${shown}`);
  }
  const s = parsed.data;
  const production = s.NODE_ENV === 'production';
  if (production && s.AUTH_DEV_TOKENS === true) {
    throw new ConfigError('AUTH_DEV_TOKENS', 'dev tokens are refused when NODE_ENV=production');
  }
  if (production && !s.DATABASE_URL) {
    throw new ConfigError(
      'DATABASE_URL',
      'is required when NODE_ENV=production (the embedded database is for development)',
    );
  }
  if (production && !s.AUTH_ISSUER_URL) {
    throw new ConfigError('AUTH_ISSUER_URL', 'is required when NODE_ENV=production (the Keycloak realm URL)');
  }
  if (s.AUTH_ISSUER_URL && !s.AUTH_AUDIENCE) {
    throw new ConfigError(
      'AUTH_AUDIENCE',
      'is required when AUTH_ISSUER_URL is set (the client id tokens are for)',
    );
  }
  if (s.SEARCH_ENGINE === 'meilisearch' && !s.MEILI_URL) {
    throw new ConfigError(
      'MEILI_URL',
      'is required when SEARCH_ENGINE=meilisearch (the server, e.g. http://meilisearch:7700)',
    );
  }
  return { ...s, AUTH_DEV_TOKENS: s.AUTH_DEV_TOKENS ?? !production };
}

function isSecret(setting: string): boolean {
  return /URL|SECRET|PASSWORD|TOKEN|KEY/.test(setting) && setting !== 'AUTH_ISSUER_URL';
}

/** Loads `atrium.config.ts` (or ATRIUM_CONFIG) when it exists, then the environment. */
export async function loadConfig(
  env: Record<string, string | undefined> = process.env,
  cwd = process.cwd(),
): Promise<AtriumConfig> {
  const path = resolve(cwd, env.ATRIUM_CONFIG ?? 'atrium.config.ts');
  let file: AtriumConfigFile = {};
  if (existsSync(path)) {
    const mod = (await import(pathToFileURL(path).href)) as { default?: AtriumConfigFile };
    if (!mod.default)
      throw new ConfigError('ATRIUM_CONFIG', `${path} has no default export (use defineConfig)`);
    file = mod.default;
  } else if (env.ATRIUM_CONFIG) {
    throw new ConfigError('ATRIUM_CONFIG', `file ${path} does not exist`);
  }
  return { settings: parseSettings(env, file.settings), plugins: file.plugins ?? [] };
}
