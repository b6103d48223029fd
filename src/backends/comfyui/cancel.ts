import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../log.js';
import type { ComfyClient } from './http-client.js';
import { locatePrompt } from './prompt-state.js';

/**
 * Cancelling a prompt (spec §8) and remembering it, so `follow` never mistakes a prompt this
 * process removed for one a server restart lost.
 */

/** How long a cancellation is remembered: far longer than any follow takes to notice it. */
const REMEMBER_MS = 3_600_000;

export interface CancelTarget {
  host: string;
  client: Pick<ComfyClient, 'deleteQueued' | 'interrupt' | 'queue' | 'history'>;
}

export class PromptCanceller {
  private readonly cancelled = new Map<string, number>();

  constructor(private readonly timing: { cancelTimeoutMs: number; confirmPollMs: number }) {}

  wasCancelled(promptId: string): boolean {
    return this.cancelled.has(promptId);
  }

  /** Removes the prompt from the queue or interrupts it, and waits (bounded) until it is gone. */
  async cancel(server: CancelTarget, promptId: string, log: Logger): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.cancelled) if (now - at > REMEMBER_MS) this.cancelled.delete(id);
    this.cancelled.set(promptId, now);
    const client = server.client;
    // Both, in this order, each a no-op when it does not apply (spec §8). Interrupt only when GET
    // /queue shows the prompt running: an old server without targeted interrupt ignores the body and
    // would stop whatever runs, maybe another user's job. A server that does not answer GET /queue
    // gets no interrupt either.
    await client
      .deleteQueued([promptId])
      .catch((error: unknown) => log.warn({ err: error }, 'POST /queue delete failed'));
    let where = await locatePrompt(client, promptId);
    let interruptedAt = 0;
    const deadline = Date.now() + this.timing.cancelTimeoutMs;
    while (true) {
      if (where.kind === 'done' || where.kind === 'absent') {
        log.info({ promptId, server: server.host }, 'ComfyUI prompt cancelled');
        return;
      }
      if (where.kind === 'pending') {
        await client.deleteQueued([promptId]).catch(() => undefined);
      } else if (where.kind === 'running' && Date.now() - interruptedAt > 1_000) {
        interruptedAt = Date.now();
        await client
          .interrupt(promptId)
          .catch((error: unknown) => log.warn({ err: error }, 'POST /interrupt failed'));
      }
      if (Date.now() >= deadline) break;
      await sleep(Math.min(200, this.timing.confirmPollMs * 2));
      where = await locatePrompt(client, promptId);
    }
    log.warn(
      { promptId, server: server.host, where: where.kind },
      'could not confirm the ComfyUI cancellation in time',
    );
  }
}
