import type { Server } from 'node:http';
import Router from '@koa/router';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Authenticator } from './auth/authenticator.ts';
import { DevTokenVerifier, devTokenSecret } from './auth/dev-tokens.ts';
import { KeycloakTokenVerifier } from './auth/keycloak-verifier.ts';
import type { TokenVerifier } from './auth/principal.ts';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './db/embedded.ts';
import { createOrm, migrate } from './db/orm.ts';
import { buildSchemas } from './graphql/schema.ts';
import { createGraphQLHandler } from './graphql/yoga.ts';
import { createHttpApp } from './http/app.ts';
import type { HealthCheck } from './http/health.ts';
import { createMetrics } from './http/metrics.ts';
import { startBackgroundLoops } from './kernel/background.ts';
import type { AtriumConfig, Settings } from './kernel/config.ts';
import { ConfigError } from './kernel/errors.ts';
import { Jobs } from './kernel/jobs.ts';
import { type LiveBus, LocalLiveBus, PostgresLiveBus } from './kernel/live.ts';
import { createLogger, type Logger } from './kernel/logger.ts';
import { type LoadedModule, loadModules } from './kernel/module-host.ts';
import { runModuleJobs } from './kernel/module-jobs.ts';
import { type AnyRuntime, bindDataSubjectHooks, type DataSubjectHooks } from './kernel/plugin.ts';
import { createLlmProvider } from './llm/index.ts';
import type { LlmProvider } from './llm/provider.ts';
import { coreModules } from './modules/index.ts';
import { OutboxDispatcher, type RegisteredSubscription } from './modules/outbox/dispatcher.ts';
import { WorkspaceLookup } from './modules/workspaces/service.ts';
import type { SearchEngine } from './search/engine.ts';
import { createSearchEngine } from './search/index.ts';

export type ProcessRole = 'all' | 'api' | 'worker';

export interface AtriumOptions {
  config: AtriumConfig;
  /** `all` serves HTTP and runs workers; `api` and `worker` split them across deployments. */
  role?: ProcessRole;
  logger?: Logger;
  /** Apply pending migrations at boot; default: only on the embedded database. */
  migrateOnStart?: boolean;
}

export interface Atrium {
  settings: Settings;
  logger: Logger;
  orm: MikroORM;
  jobs: Jobs;
  /** The engine SEARCH_ENGINE chose; modules reach it as `runtime.search`. */
  search: SearchEngine;
  /** The LLM OLLAMA_URL configures, or null; modules reach it as `runtime.llm`. */
  llm: LlmProvider | null;
  modules: LoadedModule[];
  /** The runtime a module's hooks receive (channels, live notices, journey steps, …): for tests and scripts. */
  runtimeOf(moduleName: string): AnyRuntime;
  /** Starts listening; resolves with the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Drains HTTP requests and running jobs, then closes every connection. */
  stop(): Promise<void>;
}

/** The composition root: validated config in, a wired Atrium out. Nothing here is global. */
export async function createAtrium(options: AtriumOptions): Promise<Atrium> {
  const { settings } = options.config;
  const role = options.role ?? 'all';
  const logger = options.logger ?? createLogger(settings.LOG_LEVEL);
  const modules = loadModules(coreModules, options.config.plugins);

  const embedded: EmbeddedDatabase | null = settings.DATABASE_URL
    ? null
    : await startEmbeddedDatabase(settings.ATRIUM_DATA_DIR, logger);
  const databaseUrl = settings.DATABASE_URL ?? (embedded as EmbeddedDatabase).url;
  const orm = await createOrm({
    databaseUrl,
    modules,
    // PGlite has one session behind all socket connections: interleaved statements from two
    // connections clash ("unnamed prepared statement does not exist"), so embedded uses one.
    poolMax: embedded ? 1 : settings.DATABASE_POOL_MAX,
    logger: logger.child({ component: 'orm' }),
    applicationName: `atrium-${role}`,
  });
  if (options.migrateOnStart ?? embedded !== null) {
    const applied = await migrate(orm);
    if (applied.length) logger.info({ applied }, 'migrations applied');
  } else {
    const pending = await orm.migrator.getPending();
    if (pending.length) {
      throw new ConfigError(
        'DATABASE_URL',
        `the database has ${pending.length} pending migrations: run "atrium migrate" first`,
      );
    }
  }

  const jobs = new Jobs({
    ...(embedded ? { sharedWith: orm } : { databaseUrl }),
    poolMax: Math.max(2, Math.floor(settings.DATABASE_POOL_MAX / 2)),
    logger: logger.child({ component: 'jobs' }),
    superviseIntervalSeconds: settings.JOBS_SUPERVISE_INTERVAL_S,
  });
  await jobs.start();

  // Filled once every runtime exists: each module's hooks are bound to its own runtime.
  const dataSubjectHooks: DataSubjectHooks[] = [];
  // Extension points that the core hosts but any module may extend: collected once from all modules.
  const segmentOperators = modules.flatMap((m) => m.definition.segmentOperators ?? []);
  const searchSources = modules.flatMap((m) => m.definition.searchSources ?? []);
  const search = createSearchEngine(settings, orm, logger.child({ component: 'search' }));
  const llm = createLlmProvider(settings);
  const channels = new Map(modules.flatMap((m) => m.definition.channels ?? []).map((c) => [c.code, c]));
  const journeySteps = new Map(
    modules.flatMap((m) => m.definition.journeySteps ?? []).map((s) => [s.code, s]),
  );
  const assistantTools = new Map(
    modules.flatMap((m) => m.definition.assistantTools ?? []).map((t) => [t.code, t]),
  );
  // Embedded mode is one process with one connection, which LISTEN cannot share.
  const live: LiveBus = embedded
    ? new LocalLiveBus()
    : await PostgresLiveBus.connect(databaseUrl, logger.child({ component: 'live' }));
  const runtimes = new Map<LoadedModule, AnyRuntime>(
    modules.map((m) => [
      m,
      {
        name: m.definition.name,
        config: m.config,
        logger: logger.child({ module: m.definition.name }),
        orm,
        jobs,
        settings,
        dataSubjectHooks,
        segmentOperators,
        search,
        searchSources,
        channels,
        live,
        journeySteps,
        llm,
        assistantTools,
      },
    ]),
  );
  const runtimeOf = (m: LoadedModule) => runtimes.get(m) as AnyRuntime;
  dataSubjectHooks.push(
    ...bindDataSubjectHooks(modules.map((m) => ({ definition: m.definition, runtime: runtimeOf(m) }))),
  );

  const dispatcher = new OutboxDispatcher(
    orm,
    jobs,
    logger.child({ component: 'outbox' }),
    subscriptionsOf(modules, runtimeOf),
    {
      retryLimit: settings.OUTBOX_RETRY_LIMIT,
      retryDelaySeconds: settings.OUTBOX_RETRY_DELAY_S,
      expireInSeconds: settings.JOBS_EXPIRE_S,
      pollIntervalMs: settings.OUTBOX_POLL_MS,
      concurrency: settings.OUTBOX_CONCURRENCY,
    },
  );
  // Plugins are initialised before any of their handlers or jobs can run.
  for (const m of modules) await m.definition.onInit?.(runtimeOf(m));
  await dispatcher.createQueues();
  await runModuleJobs(modules, runtimeOf, jobs, role !== 'api');
  const background =
    role !== 'api'
      ? startBackgroundLoops(modules, runtimeOf, logger.child({ component: 'background' }))
      : null;
  if (role !== 'api') {
    await dispatcher.start();
    // Publish right after a commit in this process instead of waiting for the next poll.
    orm.em.getEventManager().registerSubscriber({ afterTransactionCommit: () => dispatcher.nudge() });
  }

  const verifiers: TokenVerifier[] = [];
  if (settings.AUTH_ISSUER_URL && settings.AUTH_AUDIENCE) {
    verifiers.push(
      new KeycloakTokenVerifier({
        issuerUrl: settings.AUTH_ISSUER_URL,
        audience: settings.AUTH_AUDIENCE,
        workspaceClaim: settings.AUTH_WORKSPACE_CLAIM,
        minSecondsBetweenKeyFetches: settings.AUTH_KEYS_MIN_REFRESH_S,
      }),
    );
  }
  if (settings.AUTH_DEV_TOKENS)
    verifiers.push(new DevTokenVerifier(devTokenSecret(settings.ATRIUM_DATA_DIR)));
  const authenticator = new Authenticator(verifiers, orm);

  const schemas = buildSchemas(modules, runtimeOf, {
    maxDepth: settings.GRAPHQL_MAX_DEPTH,
    maxComplexity: settings.GRAPHQL_MAX_COMPLEXITY,
    maxBreadth: settings.GRAPHQL_MAX_BREADTH,
  });
  const graphqlLogger = logger.child({ component: 'graphql' });
  const graphiql = settings.NODE_ENV !== 'production';
  const workspaces = new WorkspaceLookup(orm);
  const yoga = (schema: typeof schemas.admin, endpoint: string, graph: 'admin' | 'public') =>
    createGraphQLHandler({
      schema,
      publicSchema: schemas.public,
      endpoint,
      graph,
      orm,
      authenticator,
      workspaces,
      logger: graphqlLogger,
      graphiql,
      introspection: settings.NODE_ENV !== 'production',
      maxTokens: settings.GRAPHQL_MAX_TOKENS,
    });

  const healthChecks = new Map<string, HealthCheck>([
    ['database', async () => void (await orm.em.fork().getConnection().execute('select 1'))],
    ['jobs', async () => void (await jobs.boss.getQueue('atrium.event-delivery'))],
  ]);
  if (settings.AUTH_ISSUER_URL) {
    const certs = `${settings.AUTH_ISSUER_URL.replace(/\/+$/, '')}/protocol/openid-connect/certs`;
    healthChecks.set('keycloak', async () => {
      const response = await fetch(certs, { signal: AbortSignal.timeout(2500) });
      if (!response.ok) throw new Error(`${certs} answered ${response.status}`);
    });
  }
  // The PostgreSQL engine is the database, which the check above covers.
  if (search.kind !== 'postgres') healthChecks.set('search', () => search.health());
  // The server answers and the configured models are on it.
  if (llm) healthChecks.set('llm', () => llm.health());
  for (const m of modules) {
    for (const [name, check] of Object.entries(m.definition.healthChecks ?? {})) {
      healthChecks.set(`${m.definition.name}.${name}`, () => check(runtimeOf(m)));
    }
  }

  // Plugins live under /plugins/<name>; core modules own public paths such as /v1/track.
  const moduleRouters = modules
    .filter((m) => m.definition.routes)
    .map((m) => {
      const router = new Router();
      m.definition.routes?.(router, runtimeOf(m));
      return { prefix: m.isPlugin ? `/plugins/${m.definition.name}` : '', router };
    });

  let shuttingDown = false;
  const app = createHttpApp({
    logger,
    metrics: createMetrics(),
    graphql: [
      {
        path: '/graphql',
        yoga: yoga(schemas.admin, '/graphql', 'admin'),
        rateLimit: { perSecond: settings.ADMIN_GRAPHQL_RATE_PER_SECOND, by: 'credential' },
      },
      {
        path: '/public/graphql',
        yoga: yoga(schemas.public, '/public/graphql', 'public'),
        rateLimit: { perSecond: settings.PUBLIC_GRAPHQL_RATE_PER_SECOND, by: 'address' },
      },
    ],
    healthChecks,
    isShuttingDown: () => shuttingDown,
    moduleRouters,
    graphqlMaxBodyBytes: settings.GRAPHQL_MAX_BODY_BYTES,
  });

  let server: Server | null = null;
  let stopping: Promise<void> | null = null;

  async function shutdown(): Promise<void> {
    shuttingDown = true;
    const deadline = settings.SHUTDOWN_TIMEOUT_MS;
    if (server) {
      const closing = new Promise<void>((resolve) => server?.close(() => resolve()));
      server.closeIdleConnections();
      const forced = setTimeout(() => server?.closeAllConnections(), deadline);
      await closing;
      clearTimeout(forced);
    }
    await background?.stop();
    await dispatcher.stop();
    await jobs.stop(deadline);
    for (const m of [...modules].reverse()) await m.definition.onDestroy?.(runtimeOf(m));
    await search.close?.();
    await live.close();
    await orm.close();
    await embedded?.stop();
    logger.info('atrium stopped');
  }

  return {
    settings,
    logger,
    orm,
    jobs,
    search,
    llm,
    modules,
    runtimeOf(moduleName) {
      const module = modules.find((m) => m.definition.name === moduleName);
      if (!module) throw new Error(`no module is named "${moduleName}"`);
      return runtimeOf(module);
    },
    async listen(port = settings.PORT, host = settings.HOST) {
      if (role === 'worker') throw new Error('a worker process does not serve HTTP');
      const listening = app.listen(port, host);
      server = listening;
      await new Promise<void>((resolve, reject) => {
        listening.once('listening', resolve);
        listening.once('error', reject);
      });
      const address = listening.address();
      const boundPort = typeof address === 'object' && address ? address.port : port;
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
      return `http://${shownHost}:${boundPort}`;
    },
    stop() {
      stopping ??= shutdown();
      return stopping;
    },
  };
}

function subscriptionsOf(
  modules: LoadedModule[],
  runtimeOf: (m: LoadedModule) => AnyRuntime,
): RegisteredSubscription[] {
  return modules.flatMap((m) =>
    (m.definition.events ?? []).map((subscription) => {
      const types = Array.isArray(subscription.on) ? subscription.on : [subscription.on];
      return {
        key: `${m.definition.name}:${subscription.name ?? types.join(',')}`,
        types: new Set(types),
        subscription,
        runtime: runtimeOf(m),
      };
    }),
  );
}
