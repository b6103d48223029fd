import type { Redis } from 'ioredis';

/**
 * The jobs one BullMQ worker of this process is running. A stop waits for them, not for Redis:
 * BullMQ's own close needs Redis to finish, and during an outage it would wait for its return.
 */
export class RunningJobs {
  private readonly running = new Set<string>();
  private waiters: (() => void)[] = [];

  /** Runs one job's processor, counted as running until it settles. */
  async run<T>(jobId: string, processor: () => Promise<T>): Promise<T> {
    this.running.add(jobId);
    try {
      return await processor();
    } finally {
      this.running.delete(jobId);
      if (this.running.size === 0) for (const resolve of this.waiters.splice(0)) resolve();
    }
  }

  get ids(): string[] {
    return [...this.running];
  }

  /** Resolves once no job runs. */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * When a worker may be considered stopped: its BullMQ close is done, or, while Redis is away,
   * no job is left running (nothing else can happen without Redis anyway).
   */
  stopped(closing: Promise<void>, connection: Redis): Promise<void> {
    return Promise.race([
      closing,
      this.idle().then(() => (connection.status === 'ready' ? closing : undefined)),
    ]);
  }
}
