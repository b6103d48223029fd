import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

export interface WorkerReport {
  id: string;
  backend: string;
  ok: boolean;
  message?: string;
  at: number;
}

export interface BackendStatus {
  /** Workers that reported within the last interval. */
  online: number;
  healthy: number;
  /** Why unhealthy workers say they cannot work (e.g. "no ComfyUI server answers"). */
  problems: string[];
}

const key = (prefix: string, id = '*') => `${prefix}:workers:${id}`;

/**
 * Each worker says every few seconds whether its backend can take work, in a key that expires when
 * the worker dies; the bot reads them to tell users the backend is down instead of queueing silently.
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
    const report: WorkerReport = { id: this.id, backend: this.backend, ...health, at: Date.now() };
    await this.redis.set(key(this.prefix, this.id), JSON.stringify(report), 'PX', this.intervalMs * 3);
  }

  async start(): Promise<void> {
    await this.beat().catch(() => undefined);
    this.timer = setInterval(() => void this.beat().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.del(key(this.prefix, this.id)).catch(() => undefined);
  }
}

export async function backendStatus(redis: Redis, prefix: string): Promise<BackendStatus> {
  const status: BackendStatus = { online: 0, healthy: 0, problems: [] };
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', key(prefix), 'COUNT', 200);
    cursor = next;
    const values = keys.length > 0 ? await redis.mget(...keys) : [];
    for (const value of values) {
      if (!value) continue;
      const report = JSON.parse(value) as WorkerReport;
      status.online += 1;
      if (report.ok) status.healthy += 1;
      else if (report.message && !status.problems.includes(report.message))
        status.problems.push(report.message);
    }
  } while (cursor !== '0');
  return status;
}
