/**
 * `npm start`: runs the roles KINEMA_ROLE asks for. `worker` renders jobs; `bot` runs the chat
 * platforms that have credentials; `all` does both in one process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants as osConstants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { backendCapabilities, createBackend, defaultModel } from './backends/index.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { isEntryPoint } from './entry-point.js';
import { createLogger, type Logger } from './log.js';
import { checkFfmpeg, prepareForDelivery } from './media/video.js';
import { AdminDashboard } from './ops/admin/dashboard.js';
import { Metrics } from './ops/metrics.js';
import { Pipeline } from './pipeline.js';
import { type PlatformHandle, startPlatforms } from './platforms/index.js';
import { deliveryQueueName } from './queue/connection.js';
import { ModelAvailabilityRecord } from './queue/model-availability.js';
import { settlesWithin } from './queue/settle-within.js';
import { backendStatus } from './queue/worker-health.js';
import { GenerationService } from './service/generation-service.js';
import { nsfwClassifier } from './service/moderation/index.js';
import { PublicLinks } from './service/public-links.js';
import { s3SettingsFrom } from './storage/object-storage.js';

export interface Running {
  stop(): Promise<void>;
}

/** How far past SHUTDOWN_GRACE_SECONDS a stop may run before the process exits anyway (the promise is 5 s). */
const STOP_OVERRUN_MS = 4_500;

/** How long /healthz waits for Redis's PONG before answering 503. */
const HEALTH_PING_MS = 1_000;

/**
 * Whether Redis answers a PING in time. A connection that is not ready is not asked: its command
 * would wait in ioredis's offline queue for the reconnect, and the health check with it.
 */
async function redisAnswers(connection: Redis): Promise<boolean> {
  if (connection.status !== 'ready') return false;
  const pong = connection.ping().then(
    (answer) => answer === 'PONG',
    () => false,
  );
  return Promise.race([pong, sleep(HEALTH_PING_MS, false, { ref: false })]);
}

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * /healthz (Redis reachable), /metrics, /admin… (when ADMIN_TOKEN is set) and /videos/… (large
 * results); false for any other path.
 */
function httpRoutes(pipeline: Pipeline, links: PublicLinks, more: Route[]): Route {
  return async (req, res) => {
    if (req.url === '/healthz') {
      const ok = await redisAnswers(pipeline.connection);
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'redis unreachable');
      return true;
    }
    for (const route of more) if (await route(req, res)) return true;
    return links.handle(req, res);
  };
}

const QUEUE_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;

/** The Prometheus metrics of this process (see src/ops/metrics.ts). */
function processMetrics(config: Config, pipeline: Pipeline): Metrics {
  return new Metrics(
    {
      queueJobs: () => pipeline.queue.queue.getJobCounts(...QUEUE_STATES),
      workersOnline: async () => (await backendStatus(pipeline.connection, config.KINEMA_PREFIX)).online,
    },
    config.METRICS_TOKEN,
  );
}

/** /admin, when ADMIN_TOKEN is set: the generation queue and each platform's deliveries in bull-board. */
function adminDashboard(config: Config, pipeline: Pipeline, service: GenerationService, log: Logger) {
  if (!config.ADMIN_TOKEN) return undefined;
  const deliveries = ['discord', 'slack'].map(
    (platform) =>
      new Queue(deliveryQueueName(platform), {
        connection: pipeline.connection,
        prefix: config.KINEMA_PREFIX,
      }),
  );
  const dashboard = new AdminDashboard({
    token: config.ADMIN_TOKEN,
    desk: service.operator,
    queues: [pipeline.queue.queue, ...deliveries],
    log,
  });
  log.info('admin dashboard on /admin (ADMIN_TOKEN)');
  return { dashboard, close: () => Promise.allSettled(deliveries.map((queue) => queue.close())) };
}

function communityService(config: Config, pipeline: Pipeline): GenerationService {
  return new GenerationService(pipeline.serviceDeps(), {
    defaultModel: defaultModel(config),
    limits: {
      maxRunningPerUser: config.MAX_ACTIVE_PER_USER,
      maxWaitingPerUser: config.MAX_QUEUED_PER_USER,
    },
    maxInputBytes: config.MAX_INPUT_BYTES,
    storageDays: config.STORAGE_TTL_DAYS,
    maxExtensions: config.MAX_EXTENSIONS,
    community: config,
    capabilities: backendCapabilities(config),
    fetchPolicy: { allowHosts: config.FETCH_ALLOW_HOSTS },
  });
}

async function startHttpServer(config: Config, log: Logger, routes: Route): Promise<Server> {
  const server = createServer((req, res) => {
    routes(req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404).end();
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(config.HTTP_PORT, resolve));
  // The port bound, which is not HTTP_PORT when that is 0 (any free port).
  const { port } = server.address() as AddressInfo;
  log.info({ port }, 'HTTP: /healthz, /metrics, /admin and /videos/…');
  return server;
}

/**
 * Loads the image classifier in its thread now rather than on the first image, without waiting for
 * it: readiness (and the first acks) never depend on it. A per-server switch may still load it later.
 */
function warmClassifier(config: Config, log: Logger): void {
  if (!config.MODERATION_IMAGES) return;
  nsfwClassifier.warm().then(
    (info) => log.info(info, 'image classifier ready'),
    (error) =>
      log.error({ err: error }, 'the image classifier could not load; images are refused until it does'),
  );
}

export async function start(config: Config, log: Logger): Promise<Running> {
  const pipeline = new Pipeline({
    redisUrl: config.REDIS_URL,
    prefix: config.KINEMA_PREFIX,
    storageTtlSeconds: config.STORAGE_TTL_DAYS * 86_400,
    resultTtlSeconds: config.RESULT_TTL_HOURS * 3_600,
    objectStorage: s3SettingsFrom(config),
    attempts: config.JOB_ATTEMPTS,
    log,
    community: { env: config, defaultModel: defaultModel(config) },
  });
  await checkFfmpeg();
  warmClassifier(config, log);
  const runsWorker = config.KINEMA_ROLE !== 'bot';
  const runsBot = config.KINEMA_ROLE !== 'worker';
  const availability = new ModelAvailabilityRecord(pipeline.connection, config.KINEMA_PREFIX, log);
  const backend = runsWorker
    ? await createBackend(config, { redis: pipeline.connection, log, availability })
    : undefined;
  if (backend) {
    await pipeline.startWorker(backend, prepareForDelivery, {
      concurrency: config.WORKER_CONCURRENCY,
      resubmitAmbiguous: config.RESUBMIT_AMBIGUOUS,
      shutdownGraceMs: config.SHUTDOWN_GRACE_SECONDS * 1000,
    });
    log.info({ backend: backend.name, concurrency: config.WORKER_CONCURRENCY }, 'worker started');
    // A hosted app may have changed or been retired (wan-apps.md §0): say so before jobs fail.
    backend
      .startupCheck?.()
      .then((problems) => {
        for (const problem of problems) log.warn({ backend: backend.name }, problem);
      })
      .catch((error) => log.warn({ err: error }, 'could not run the backend start-up check'));
  }
  const ttl = config.STORAGE_TTL_DAYS * 86_400;
  const links = new PublicLinks(
    pipeline.connection,
    config.KINEMA_PREFIX,
    pipeline.blobs,
    config.PUBLIC_URL,
    ttl,
  );
  const metrics = processMetrics(config, pipeline);
  const service = runsBot || config.ADMIN_TOKEN ? communityService(config, pipeline) : undefined;
  const admin = service && adminDashboard(config, pipeline, service, log);
  const routes = httpRoutes(pipeline, links, [
    (req, res) => metrics.handle(req, res),
    ...(admin ? [(req: IncomingMessage, res: ServerResponse) => admin.dashboard.handle(req, res)] : []),
  ]);
  let platforms: PlatformHandle[] = [];
  if (runsBot && service) {
    platforms = await startPlatforms({
      config,
      service,
      redis: pipeline.connection,
      log,
      links,
      httpRoutes: routes,
    });
    if (platforms.length === 0) {
      log.warn('no chat platform is configured (set DISCORD_TOKEN or SLACK_BOT_TOKEN); only the queue runs');
    } else {
      log.info({ platforms: platforms.map((platform) => platform.name) }, 'chat platforms active');
    }
  }
  const health = platforms.some((platform) => platform.servesHttp)
    ? undefined
    : await startHttpServer(config, log, routes);
  const graceMs = config.SHUTDOWN_GRACE_SECONDS * 1000;
  return {
    // Chat and rendering stop side by side, each within the grace period; the steps after it are
    // bounded too, so SIGTERM ends the process in time even while Redis is unreachable.
    async stop() {
      await Promise.all([
        settlesWithin(Promise.allSettled(platforms.map((platform) => platform.stop())), graceMs),
        pipeline.close(),
      ]);
      health?.closeAllConnections();
      metrics.close();
      await Promise.all([
        settlesWithin(admin?.close(), 500),
        settlesWithin(backend?.close?.(), 500),
        settlesWithin(health && new Promise((resolve) => health.close(resolve)), 500),
      ]);
    },
  };
}

async function run() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  const log = createLogger(config.LOG_LEVEL);
  // One failed request or stream must not take down every job this process serves.
  process.on('unhandledRejection', (error) => log.error({ err: error }, 'unhandled rejection'));
  process.on('uncaughtException', (error) => {
    // The process state is unknown now: exit, and let the supervisor restart it (jobs re-attach).
    log.fatal({ err: error }, 'uncaught exception; exiting');
    process.exit(1);
  });
  const running = await start(config, log);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // An operator who asks twice means now; active jobs are left to BullMQ's stall check.
      log.warn(
        { signal },
        'second signal: exiting now; active jobs go to another worker when their lock lapses',
      );
      process.exit(128 + osConstants.signals[signal]);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Every step of stop() is bounded; this only guards against one that is not.
    setTimeout(
      () => {
        log.error('shutdown did not finish in time; exiting');
        process.exit(1);
      },
      config.SHUTDOWN_GRACE_SECONDS * 1000 + STOP_OVERRUN_MS,
    ).unref();
    running.stop().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (isEntryPoint(import.meta.url)) {
  run().catch((error) => {
    process.stderr.write(`Kinema failed to start: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
