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

  /** Ids start in order, so the oldest acknowledgement still out decides for every waiter. */
  private answeredUpTo(upTo: number): boolean {
    const oldest = this.inFlight.values().next();
    return oldest.done === true || oldest.value > upTo;
  }

  private wake() {
    if (this.waiters.length === 0) return;
    const oldest = this.inFlight.values().next();
    const answered = oldest.done === true ? Number.POSITIVE_INFINITY : oldest.value - 1;
    // Waiters are pushed in order of `upTo`, so the ready ones are a prefix.
    let ready = 0;
    while (ready < this.waiters.length && this.waiters[ready]!.upTo <= answered) ready += 1;
    if (ready === 0) return;
    for (const waiter of this.waiters.splice(0, ready)) waiter.resolve();
  }
}
