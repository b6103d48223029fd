import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

export interface WorkerReport {
  id: string;
  backend: string;
  ok: boolean;
  message?: string;
  at: number;
  /** After this the report is stale: the worker stopped beating (it died or lost Redis). */
  expiresAt: number;
}

export interface BackendStatus {
  /** Workers that reported within the last interval. */
  online: number;
  healthy: number;
  /** Why unhealthy workers say they cannot work (e.g. "no ComfyUI server answers"). */
  problems: string[];
}

/** One hash for all workers: reading it never walks the keyspace. */
const key = (prefix: string) => `${prefix}:workers`;

/**
 * Each worker says every few seconds whether its backend can take work, with a time after which the
 * report is stale; the bot reads them to tell users the backend is down instead of queueing silently.
 */
export class WorkerHeartbeat {
  private timer?: NodeJS.Timeout;
  readonly id = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly backend: string,
    private readonly check: () => Promise<{ ok: boolean; message?: string }>,
    private readonly intervalMs = 15_000,
  ) {}

  async beat(): Promise<void> {
    const health = await this.check().catch((error: Error) => ({ ok: false, message: error.message }));
    const now = Date.now();
    const report: WorkerReport = {
      id: this.id,
      backend: this.backend,
      ...health,
      at: now,
      expiresAt: now + this.intervalMs * 3,
    };
    await this.redis.hset(key(this.prefix), this.id, JSON.stringify(report));
  }

  async start(): Promise<void> {
    await this.beat().catch(() => undefined);
    this.timer = setInterval(() => void this.beat().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.hdel(key(this.prefix), this.id).catch(() => undefined);
  }
}

export async function backendStatus(redis: Redis, prefix: string): Promise<BackendStatus> {
  const status: BackendStatus = { online: 0, healthy: 0, problems: [] };
  const now = Date.now();
  const stale: string[] = [];
  for (const [id, value] of Object.entries(await redis.hgetall(key(prefix)))) {
    const report = JSON.parse(value) as WorkerReport;
    if (report.expiresAt < now) {
      stale.push(id);
      continue;
    }
    status.online += 1;
    if (report.ok) status.healthy += 1;
    else if (report.message && !status.problems.includes(report.message))
      status.problems.push(report.message);
  }
  if (stale.length > 0) await redis.hdel(key(prefix), ...stale).catch(() => undefined);
  return status;
}
