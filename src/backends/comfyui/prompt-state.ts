import type { ComfyClient, HistoryItem } from './http-client.js';

/** Where a prompt is on its server, as `GET /queue` and `GET /history` tell (spec §4, §8). */

export type PromptState =
  | { kind: 'running' }
  /** `position` 1 is next: counts the running prompt and the pending ones queued before it. */
  | { kind: 'pending'; position: number }
  | { kind: 'done'; item: HistoryItem }
  /** In neither queue nor history: cancelled, or lost by a server restart. */
  | { kind: 'absent' }
  | { kind: 'down'; error: unknown };

/** Queue first, then history, so a prompt finishing in between is not missed. */
export async function locatePrompt(
  client: Pick<ComfyClient, 'queue' | 'history'>,
  promptId: string,
  signal?: AbortSignal,
): Promise<PromptState> {
  try {
    const queue = await client.queue(signal);
    if (queue.running.some((item) => item[1] === promptId)) return { kind: 'running' };
    const mine = queue.pending.find((item) => item[1] === promptId);
    if (mine) {
      const ahead = queue.pending.filter((item) => item !== mine && Number(item[0]) < Number(mine[0])).length;
      return { kind: 'pending', position: 1 + ahead + queue.running.length };
    }
    const item = await client.history(promptId, signal);
    return item ? { kind: 'done', item } : { kind: 'absent' };
  } catch (error) {
    signal?.throwIfAborted();
    return { kind: 'down', error };
  }
}
