import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { listenToTelemetry } from '../core/telemetry.js';
import { sameSecret } from './secrets.js';

/** What the gauges read at each scrape (from Redis, so bounded: a scrape never hangs on an outage). */
export interface MetricsSources {
  /** BullMQ's job counts per state of the generation queue. */
  queueJobs(): Promise<Record<string, number>>;
  /** Workers whose heartbeat is current. */
  workersOnline(): Promise<number>;
}

const SCRAPE_READ_MS = 2_000;

/** Acks answer in tens of milliseconds, renders take minutes, waits up to an hour. */
const BUCKETS = {
  ack: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5],
  wait: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600],
  render: [15, 30, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600],
  delivery: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
};

async function bounded<T>(read: Promise<T>): Promise<T | undefined> {
  return Promise.race([read.catch(() => undefined), sleep(SCRAPE_READ_MS, undefined, { ref: false })]);
}

/**
 * Kinema's Prometheus metrics (`GET /metrics`, text format), the only place that knows prom-client:
 * the code measured reports plain events (`src/core/telemetry.ts`), turned here into counters and
 * histograms; the queue gauges are read at scrape time. One registry per process role started.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly detach: () => void;

  constructor(
    sources: MetricsSources,
    private readonly token?: string,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const jobs = new Counter({
      name: 'kinema_jobs_total',
      help: 'Jobs that reached a final outcome, counted where it happened (a worker, or a cancel in the bot).',
      labelNames: ['outcome', 'model', 'backend', 'platform'] as const,
      registers,
    });
    const wait = new Histogram({
      name: 'kinema_job_wait_seconds',
      help: 'From the request to a worker taking the job.',
      buckets: BUCKETS.wait,
      registers,
    });
    const render = new Histogram({
      name: 'kinema_job_render_seconds',
      help: 'From the backend submission to the stored video.',
      buckets: BUCKETS.render,
      registers,
    });
    const delivery = new Histogram({
      name: 'kinema_job_delivery_seconds',
      help: 'From the worker handing an outcome over to its post in chat.',
      labelNames: ['platform'] as const,
      buckets: BUCKETS.delivery,
      registers,
    });
    const ack = new Histogram({
      name: 'kinema_ack_seconds',
      help: 'How long acknowledging a chat interaction took (Discord defer, Slack ack).',
      labelNames: ['platform'] as const,
      buckets: BUCKETS.ack,
      registers,
    });
    const backendErrors = new Counter({
      name: 'kinema_backend_errors_total',
      help: 'Failed job attempts on a backend, by error kind (transient, configuration, ambiguoussubmit, …).',
      labelNames: ['backend', 'kind'] as const,
      registers,
    });
    const rateLimited = new Counter({
      name: 'kinema_chat_rate_limited_total',
      help: '429 answers from the chat platform (each one obeyed by the send scheduler).',
      labelNames: ['platform'] as const,
      registers,
    });
    new Gauge({
      name: 'kinema_queue_jobs',
      help: 'Generation jobs in the queue by state.',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const counts = await bounded(sources.queueJobs());
        if (!counts) return;
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'kinema_workers_online',
      help: 'Workers whose heartbeat is current.',
      registers,
      async collect() {
        const online = await bounded(sources.workersOnline());
        if (online !== undefined) this.set(online);
      },
    });
    this.detach = listenToTelemetry({
      jobFinished: (event) => jobs.inc(event),
      jobStarted: (event) => wait.observe(event.waitSeconds),
      jobRendered: (event) => render.observe(event.renderSeconds),
      jobDelivered: (event) => delivery.observe({ platform: event.platform }, event.deliverySeconds),
      acked: (event) => ack.observe({ platform: event.platform }, event.seconds),
      backendError: (event) => backendErrors.inc(event),
      chatRateLimited: (event) => rateLimited.inc(event),
    });
  }

  /** `GET /metrics`, behind `Authorization: Bearer METRICS_TOKEN` when one is set; false for other paths. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    if (this.token) {
      const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (!sameSecret(given, this.token)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain' });
        res.end('a valid METRICS_TOKEN is needed (Authorization: Bearer …)');
        return true;
      }
    }
    const body = await this.registry.metrics();
    res.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  close(): void {
    this.detach();
  }
}
