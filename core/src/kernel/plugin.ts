import type Router from '@koa/router';
import type { Migration } from '@mikro-orm/migrations';
import type { EntityManager, EntitySchema, MikroORM } from '@mikro-orm/postgresql';
import type { z } from 'zod';
import type { AtriumBuilder } from '../graphql/builder.ts';
import type { CoreRefs } from '../graphql/refs.ts';
import type { LlmProvider } from '../llm/provider.ts';
import type { AnyAssistantTool } from '../llm/tools.ts';
import type { AnyChannel } from '../modules/conversations/channels.ts';
import type { AnyStep } from '../modules/journeys/steps/step.ts';
import type { AnySegmentOperator } from '../modules/profiles/segments/operators.ts';
import type { SearchEngine } from '../search/engine.ts';
import type { SearchSource } from '../search/indexing.ts';
import type { Settings } from './config.ts';
import type { DomainEvent } from './events.ts';
import type { JobQueue } from './jobs.ts';
import type { LiveBus } from './live.ts';
import type { Logger } from './logger.ts';

/** A migration contributed by a module or plugin; names are global, so prefix them with the owner. */
export interface MigrationDefinition {
  name: string;
  class: new (...args: ConstructorParameters<typeof Migration>) => Migration;
}

/** What every hook of a module receives: its validated config and the core's shared parts. */
export interface ModuleRuntime<Config = unknown> {
  name: string;
  config: Config;
  logger: Logger;
  orm: MikroORM;
  jobs: JobQueue;
  /** The validated settings, for core modules' knobs (e.g. INGEST_RATE_PER_SECOND). */
  settings: Settings;
  /** Every module's GDPR hooks, in load order, bound to their runtimes: what export and erasure walk. */
  dataSubjectHooks: readonly DataSubjectHooks[];
  /** Every module's segment condition operators (core's built-ins first): what segments evaluate with. */
  segmentOperators: readonly AnySegmentOperator[];
  /** The search engine the settings chose (SEARCH_ENGINE): query it; index through `searchSources`. */
  search: SearchEngine;
  /** Every module's search sources (collection → how its documents are made): what indexing and reindex walk. */
  searchSources: readonly SearchSource[];
  /** Every module's channel adapters by code: what conversations send and receive through. */
  channels: ReadonlyMap<string, AnyChannel>;
  /** Live notices for subscriptions (new messages, typing), across processes. */
  live: LiveBus;
  /** Every module's journey step types by code (the core's built-ins first). */
  journeySteps: ReadonlyMap<string, AnyStep>;
  /** The LLM the settings configure (OLLAMA_URL), or null: then answer without one. */
  llm: LlmProvider | null;
  /** Every module's assistant tools by code: what the assistant may offer, as its policy allows. */
  assistantTools: ReadonlyMap<string, AnyAssistantTool>;
}

/** The person a GDPR export or erasure concerns, and the transaction it runs in. */
export interface DataSubjectScope {
  /** The export's or erasure's transaction: rows erased here go if and only if the erasure commits. */
  em: EntityManager;
  workspaceId: string;
  /** The profile and every profile merged into it earlier: rows keyed by any of them are this person's. */
  profileIds: string[];
  /**
   * Lower-case strings whose presence in `lower(column::text)` means a row concerns this person:
   * the profile ids and, JSON-quoted (`"anna@example.com"`), its e-mail addresses, phone numbers
   * and user/anonymous ids of 8 characters or more (shorter ones are too likely someone else's).
   */
  mentions: string[];
}

export interface DataSubjectContext<Config = unknown> extends ModuleRuntime<Config>, DataSubjectScope {}

/** One module's GDPR hooks, bound to its runtime. */
export interface DataSubjectHooks {
  module: string;
  exportProfile?: (profileId: string, scope: DataSubjectScope) => Promise<Record<string, unknown>>;
  eraseProfile?: (profileId: string, scope: DataSubjectScope) => Promise<number>;
}

export interface EventHandlerContext<Config = unknown> extends ModuleRuntime<Config> {
  /** The transaction that also marks this delivery done: write here and the effect happens once. */
  em: EntityManager;
  /** Stable per event and handler; pass it on to anything outside the database. */
  idempotencyKey: string;
  attempt: number;
}

export interface EventSubscription<Config = unknown> {
  /** Event types, or '*' for every event. */
  on: string | string[];
  /** Unique within the module; defaults to the event types joined. Stored with each delivery. */
  name?: string;
  handle: (event: DomainEvent, ctx: EventHandlerContext<Config>) => Promise<void>;
}

export interface JobContext<Config = unknown> extends ModuleRuntime<Config> {
  em: EntityManager;
  jobId: string;
  attempt: number;
  signal: AbortSignal;
}

export interface JobDefinition<Config = unknown, Data = AnyConfig> {
  handle: (data: Data, ctx: JobContext<Config>) => Promise<void>;
  retryLimit?: number;
  retryDelaySeconds?: number;
  retryBackoff?: boolean;
  expireInSeconds?: number;
  /** Longest wait between two retries, in seconds, when backing off. */
  retryDelayMaxSeconds?: number;
  /** How many jobs of this queue one worker process runs at once (default 1). */
  concurrency?: number;
  /** Runs once when the retries ran out: record the failure where people can see it. */
  onDeadLetter?: (data: Data, ctx: JobContext<Config>) => Promise<void>;
  /**
   * Also runs by itself every this many seconds, with `{}` as data: once per time slot across
   * all processes (see `queueNextRun` in module-jobs.ts), so a handler must cope with any slot's run.
   */
  everySeconds?: number;
}

/**
 * The declarations a module or plugin makes; the host walks them at boot. Core modules
 * use the same shape as plugins so a reader finds everything in the same rooms.
 */
export interface ModuleDefinition<Config = unknown> {
  name: string;
  /** semver range of @atrium/core this plugin works with, e.g. '^1.0.0'. */
  compatibility?: string;
  /** Validates the options the plugin was given; the parsed value is `runtime.config`. */
  config?: z.ZodType<Config>;
  entities?: AnyEntitySchema[];
  migrations?: MigrationDefinition[];
  schema?: (builder: AtriumBuilder, refs: CoreRefs, runtime: ModuleRuntime<Config>) => void;
  events?: EventSubscription<Config>[];
  /**
   * Queue name → definition. Queue names are global: prefix them with the plugin name.
   * A function receives the validated config, for retry policies that depend on options.
   */
  jobs?: Record<string, JobDefinition<Config>> | ((config: Config) => Record<string, JobDefinition<Config>>);
  /** A plugin's routes are mounted at /plugins/<name>; a core module's at the root. */
  routes?: (router: Router, runtime: ModuleRuntime<Config>) => void;
  /** Named checks that /readyz runs; throw to report the service as not ready. */
  healthChecks?: Record<string, (runtime: ModuleRuntime<Config>) => Promise<void>>;
  /**
   * Segment condition operators (`{ code, args, fn }`) this module adds; codes are unique across
   * modules, so a plugin prefixes its own (`loyalty.tier`). Stored in conditions as `{ op: code, args }`.
   */
  segmentOperators?: AnySegmentOperator[];
  /**
   * Collections this module fills in the search engine, each with its settings and how to turn its
   * rows into documents; the core's search module indexes them on `search.index` jobs and on
   * `atrium reindex`. Collection names are unique across modules. See docs/search.md.
   */
  searchSources?: SearchSource[];
  /**
   * Channel adapters (`{ code, args, fn }` plus webhook parsing) this module adds; codes are unique
   * across modules. The conversations module owns messages, retries and webhooks; see docs/channels.md.
   */
  channels?: AnyChannel[];
  /**
   * Journey step types (`{ code, args, outcomes, fn }`) this module adds; codes are unique across
   * modules, so a plugin prefixes its own (`loyalty.award-points`). See docs/journeys.md.
   */
  journeySteps?: AnyStep[];
  /**
   * Actions the assistant may take for a customer (`{ code, args, fn }` with zod args; see
   * `defineAssistantTool`). Codes are unique across modules; a workspace's assistant policy names
   * the ones it offers, and high-impact tools run only after the customer confirms.
   */
  assistantTools?: AnyAssistantTool[];
  /**
   * Loops that run in worker processes from start to shutdown (the journey engine's timer loop):
   * for work that must react within a second, which a polled job queue cannot. Stop when
   * `signal` aborts; an error is logged and the loop restarts after a pause.
   */
  background?: Record<string, (runtime: ModuleRuntime<Config>, signal: AbortSignal) => Promise<void>>;
  onInit?: (runtime: ModuleRuntime<Config>) => Promise<void> | void;
  onDestroy?: (runtime: ModuleRuntime<Config>) => Promise<void> | void;
  /**
   * GDPR export: what this module holds about the profile (rows keyed by `ctx.profileIds`, rows
   * that `ctx.mentions` match); the export shows it under the module's name. Read only.
   */
  exportProfile?: (profileId: string, ctx: DataSubjectContext<Config>) => Promise<Record<string, unknown>>;
  /**
   * GDPR erasure, inside the erasure's transaction (`ctx.em`): delete or scrub this module's rows
   * about the profile and return how many went. Throwing aborts the whole erasure. Work outside
   * the database (an index, a mailbox) belongs in `profile.erased` handlers or jobs the hook queues.
   */
  eraseProfile?: (profileId: string, ctx: DataSubjectContext<Config>) => Promise<number>;
}

// biome-ignore lint/suspicious/noExplicitAny: the host holds modules of many config types at once; each module sees its own.
type AnyConfig = any;
/** A module or runtime as the host holds them, whatever their config type. */
export type AnyModule = ModuleDefinition<AnyConfig>;
export type AnyRuntime = ModuleRuntime<AnyConfig>;
// biome-ignore lint/suspicious/noExplicitAny: entity schemas of every shape live in one list.
export type AnyEntitySchema = EntitySchema<any, any>;

/** A plugin as listed in atrium.config.ts: its definition and the options it was given. */
export interface AtriumPlugin<Config = AnyConfig> {
  definition: ModuleDefinition<Config>;
  options: unknown;
}

/**
 * Declares a plugin as a typed factory of its options (Payload's habit): the options are
 * captured here and validated against `config` when the host boots.
 */
export function definePlugin<Args extends [options?: unknown], Config>(
  factory: (...args: Args) => ModuleDefinition<Config> & { compatibility: string },
): (...args: Args) => AtriumPlugin<Config> {
  return (...args: Args) => ({ definition: factory(...args), options: args[0] });
}

/** The parts of a large module that each concern (ingestion, segments, …) contributes. */
export type ModulePart<Config = unknown> = Pick<
  ModuleDefinition<Config>,
  'schema' | 'routes' | 'events' | 'segmentOperators'
> & {
  jobs?: Record<string, JobDefinition<Config>>;
};

/** Joins a module's parts into the schema, routes, events and jobs the host reads. */
export function composeParts<Config>(parts: ModulePart<Config>[]): Required<ModulePart<Config>> {
  return {
    schema: (builder, refs, runtime) => {
      for (const part of parts) part.schema?.(builder, refs, runtime);
    },
    routes: (router, runtime) => {
      for (const part of parts) part.routes?.(router, runtime);
    },
    events: parts.flatMap((part) => part.events ?? []),
    jobs: Object.assign({}, ...parts.map((part) => part.jobs ?? {})),
    segmentOperators: parts.flatMap((part) => part.segmentOperators ?? []),
  };
}

/** Binds every module's GDPR hooks to its runtime, for `ModuleRuntime.dataSubjectHooks`. */
export function bindDataSubjectHooks(
  modules: { definition: AnyModule; runtime: AnyRuntime }[],
): DataSubjectHooks[] {
  const bound: DataSubjectHooks[] = [];
  for (const { definition, runtime } of modules) {
    const { exportProfile, eraseProfile } = definition;
    if (!exportProfile && !eraseProfile) continue;
    bound.push({
      module: definition.name,
      exportProfile: exportProfile && ((id, scope) => exportProfile(id, { ...runtime, ...scope })),
      eraseProfile: eraseProfile && ((id, scope) => eraseProfile(id, { ...runtime, ...scope })),
    });
  }
  return bound;
}

/** Declares a core module: same shape as a plugin, always loaded, no options. */
export function defineModule<Config = undefined>(
  definition: ModuleDefinition<Config>,
): ModuleDefinition<Config> {
  return definition;
}
