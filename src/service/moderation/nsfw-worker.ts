/**
 * The classifier thread's entry (started by classifier-thread.ts). Loading the model and each
 * inference block for a long time (seconds to load on a busy 2-core machine), so they run here,
 * away from the event loop that acknowledges chat interactions.
 *
 * main → { id, pixels } → here → { id, scores } | { id, error }; once at start: ready | failed.
 */
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { loadNsfwModel } from './nsfw-model.js';
import type { ClassifyReply, ClassifyRequest, ThreadStatus } from './thread-messages.js';

const port = parentPort;
if (!port) throw new Error('nsfw-worker.ts runs as a worker thread');

try {
  const start = performance.now();
  const model = await loadNsfwModel();
  port.on('message', async ({ id, pixels }: ClassifyRequest) => {
    let reply: ClassifyReply;
    try {
      reply = { id, scores: await model.classify(pixels) };
    } catch (error) {
      reply = { id, error: (error as Error).message };
    }
    port.postMessage(reply);
  });
  const ready: ThreadStatus = { status: 'ready', backend: model.backend, loadMs: performance.now() - start };
  port.postMessage(ready);
} catch (error) {
  port.postMessage({ status: 'failed', error: (error as Error).message } satisfies ThreadStatus);
}
