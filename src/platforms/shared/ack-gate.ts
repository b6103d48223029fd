import { telemetry } from '../../core/telemetry.js';

/**
 * Acks first (issue 10 item 3): under a burst, every command is acknowledged before the slower work
 * of any command starts. A command acknowledges through `ack` (nothing but the defer runs before
 * it), then waits in `settled` until every acknowledgement that started before it, or in the same
 * turn of the event loop (the rest of the burst, read from the same socket), has been answered.
 * Acknowledgements that start later do not hold it back, so steady traffic never starves the work.
 */
export class AckGate {
  private started = 0;
  private readonly inFlight = new Set<number>();
  private waiters: { upTo: number; resolve: () => void }[] = [];

  /** `platform` labels the time each acknowledgement took (kinema_ack_seconds). */
  constructor(private readonly platform = 'chat') {}

  async ack<T>(acknowledge: () => Promise<T>): Promise<T> {
    const id = ++this.started;
    this.inFlight.add(id);
    const startedAt = performance.now();
    try {
      const answer = await acknowledge();
      telemetry.acked({ platform: this.platform, seconds: (performance.now() - startedAt) / 1000 });
      return answer;
    } finally {
      this.inFlight.delete(id);
      this.wake();
    }
  }

  /** Resolves once the acknowledgements started so far (and in this turn) are answered. */
  async settled(): Promise<void> {
    // Events the event loop already read are dispatched before this resumes.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const upTo = this.started;
    if (this.answeredUpTo(upTo)) return;
    await new Promise<void>((resolve) => this.waiters.push({ upTo, resolve }));
  }

  private answeredUpTo(upTo: number): boolean {
    for (const id of this.inFlight) if (id <= upTo) return false;
    return true;
  }

  private wake() {
    const ready = this.waiters.filter((waiter) => this.answeredUpTo(waiter.upTo));
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => !ready.includes(waiter));
    for (const waiter of ready) waiter.resolve();
  }
}
