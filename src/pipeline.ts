import type { Redis } from 'ioredis';
import type { VideoBackend } from './backends/backend.js';
import type { Logger } from './log.js';
import { CancelBroadcast, type CancelRequest, type CancelResult } from './queue/cancel.js';
import { redisConnection } from './queue/connection.js';
import { Deliveries } from './queue/delivery.js';
import { GenerationQueue } from './queue/generation-queue.js';
import { GenerationWorker, type GenerationWorkerOptions } from './queue/generation-worker.js';
import { unavailableModels } from './queue/model-availability.js';
import type { VideoPreparer } from './queue/result-files.js';
import { settlesWithin } from './queue/settle-within.js';
import { backendStatus, WorkerHeartbeat } from './queue/worker-health.js';
import { Community, type CommunityOptions } from './service/community.js';
import type { ServiceDeps } from './service/generation-service.js';
import { outcomeLedger } from './service/outcome-ledger.js';
import { CommunityWorkerPolicy } from './service/worker-policy.js';
import { BlobStore } from './storage/blobs.js';
import { InputStore } from './storage/inputs.js';
import { openObjectStorage, type S3Settings } from './storage/object-storage.js';

export interface PipelineOptions {
  redisUrl: string;
  prefix: string;
  storageTtlSeconds?: number;
  /** How long an undelivered result stays in Redis (RESULT_TTL_HOURS); default storageTtlSeconds. */
  resultTtlSeconds?: number;
  /** A bucket that takes every stored file instead of Redis (STORAGE_URL). */
  objectStorage?: S3Settings;
  attempts?: number;
  backoffMs?: number;
  log: Logger;
  /**
   * A community's rules for the worker and the outcomes (caps at start, pauses, quotas, spend,
   * result moderation, the audit log); without them (the CLI) every job runs as it comes.
   */
  community?: CommunityOptions;
}

/**
 * The wiring: the shared pieces every role needs (queue, storage, deliveries, cancel), built once.
 * Only entry points (main.ts, the CLI) import this; the service gets its pieces through
 * `serviceDeps()`, and the worker is added only where a backend runs.
 */
export class Pipeline {
  readonly connection: Redis;
  readonly blobs: BlobStore;
  readonly inputs: InputStore;
  readonly queue: GenerationQueue;
  readonly deliveries: Deliveries;
  readonly cancels: CancelBroadcast;
  readonly community?: Community;
  private workers: GenerationWorker[] = [];
  private heartbeats: WorkerHeartbeat[] = [];
  private extraConnections: Redis[] = [];

  constructor(readonly options: PipelineOptions) {
    this.connection = redisConnection(options.redisUrl, `${options.prefix}-main`, options.log);
    const ttl = options.storageTtlSeconds ?? 30 * 24 * 3600;
    const objects =
      options.objectStorage &&
      openObjectStorage(options.objectStorage, {
        sweep: {
          intervalMs: 3_600_000,
          minAgeSeconds: ttl,
          onError: (error) =>
            options.log.warn({ err: error }, 'could not delete expired files from the bucket'),
        },
      });
    this.blobs = new BlobStore(this.connection, {
      prefix: options.prefix,
      ttlSeconds: ttl,
      resultTtlSeconds: options.resultTtlSeconds,
      objects,
    });
    this.inputs = new InputStore(this.blobs);
    this.queue = new GenerationQueue(this.connection, {
      prefix: options.prefix,
      attempts: options.attempts,
      backoffMs: options.backoffMs,
      recordTtlSeconds: ttl,
    });
    if (options.community) {
      this.community = new Community(this.connection, options.prefix, this.queue, options.community);
    }
    this.deliveries = new Deliveries(
      this.connection,
      options.prefix,
      this.community && outcomeLedger(this.community, options.log),
    );
    this.cancels = new CancelBroadcast(this.connection, options.prefix);
  }

  async startWorker(
    backend: VideoBackend,
    prepareVideo: VideoPreparer,
    options: Omit<GenerationWorkerOptions, 'prefix'> = {},
  ): Promise<GenerationWorker> {
    const connection = redisConnection(
      this.options.redisUrl,
      `${this.options.prefix}-worker`,
      this.options.log,
    );
    this.extraConnections.push(connection);
    const worker = new GenerationWorker(
      {
        connection,
        backend,
        inputs: this.inputs,
        results: this.blobs,
        deliveries: this.deliveries,
        cancels: new CancelBroadcast(this.connection, this.options.prefix),
        prepareVideo,
        log: this.options.log,
        ...(this.community ? { policy: new CommunityWorkerPolicy(this.community, this.options.log) } : {}),
      },
      { ...options, prefix: this.options.prefix },
    );
    await worker.start();
    this.workers.push(worker);
    const heartbeat = new WorkerHeartbeat(this.connection, this.options.prefix, backend.name, async () =>
      backend.health ? backend.health() : { ok: true },
    );
    await heartbeat.start();
    this.heartbeats.push(heartbeat);
    return worker;
  }

  /** What the GenerationService works with. */
  serviceDeps(): ServiceDeps {
    return {
      redis: this.connection,
      prefix: this.options.prefix,
      queue: this.queue,
      inputs: this.inputs,
      results: this.blobs,
      cancel: (request) => this.cancel(request),
      backendStatus: () => backendStatus(this.connection, this.options.prefix),
      unavailableModels: () => unavailableModels(this.connection, this.options.prefix),
      log: this.options.log,
    };
  }

  cancel(request: CancelRequest): Promise<CancelResult> {
    return this.cancels.request(this.queue, this.deliveries, request);
  }

  /**
   * Workers get their grace period (see GenerationWorker.close); every other step is bounded, so a
   * stop ends within the grace period plus a few seconds even while Redis is unreachable.
   */
  async close(): Promise<void> {
    await Promise.all([
      ...this.heartbeats.map((heartbeat) => settlesWithin(heartbeat.stop(), 1_000)),
      ...this.workers.map((worker) => worker.close()),
    ]);
    const connections = [...this.extraConnections, this.connection];
    const closeAll = async () => {
      await Promise.allSettled([
        this.queue.close(),
        this.deliveries.close(),
        this.cancels.close(),
        this.blobs.close(),
      ]);
      await Promise.allSettled(connections.map((connection) => connection.quit()));
    };
    await settlesWithin(closeAll(), 1_000);
    // A connection still waiting for Redis would keep reconnecting forever.
    for (const connection of connections) connection.disconnect();
  }
}
