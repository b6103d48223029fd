import { Worker } from 'node:worker_threads';
import type { NsfwScores } from './nsfw-scores.js';
import type { ClassifierInfo, ClassifyReply, ClassifyRequest, ThreadStatus } from './thread-messages.js';

/**
 * The main thread's side of the classifier thread (nsfw-worker.ts): one request per image, answers
 * matched by id. The thread keeps the process alive only while it loads or answers, so a CLI run
 * that used it still exits. When the thread fails or dies, every waiting request is rejected and
 * the owner is told, so the next image starts a fresh thread.
 */
export class ClassifierThread {
  readonly ready: Promise<ClassifierInfo>;
  private readonly worker: Worker;
  private readonly waiting = new Map<
    number,
    { resolve(scores: NsfwScores): void; reject(error: Error): void }
  >();
  private nextId = 0;
  private loaded = false;
  private failure: Error | undefined;
  private readySettled!: { resolve(info: ClassifierInfo): void; reject(error: Error): void };

  constructor(private readonly onFailure: () => void) {
    this.ready = new Promise<ClassifierInfo>((resolve, reject) => {
      this.readySettled = { resolve, reject };
    });
    this.ready.catch(() => {}); // a failed load also rejects each request; no unhandled rejection here
    this.worker = startWorker();
    this.worker.on('message', (message: ClassifyReply | ThreadStatus) => this.receive(message));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) =>
      this.fail(new Error(`the NSFW classifier thread stopped (exit code ${code})`)),
    );
  }

  classify(pixels: Uint8Array): Promise<NsfwScores> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.nextId;
    return new Promise<NsfwScores>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.holdProcess();
      const request: ClassifyRequest = { id, pixels };
      this.worker.postMessage(request, [pixels.buffer as ArrayBuffer]);
    });
  }

  private receive(message: ClassifyReply | ThreadStatus) {
    if ('status' in message) {
      if (message.status === 'failed') {
        this.fail(new Error(`the NSFW classifier could not load: ${message.error}`));
        return;
      }
      this.loaded = true;
      this.readySettled.resolve({ backend: message.backend, loadMs: message.loadMs });
      this.holdProcess();
      return;
    }
    const request = this.waiting.get(message.id);
    if (!request) return;
    this.waiting.delete(message.id);
    this.holdProcess();
    if ('scores' in message) request.resolve(message.scores);
    else request.reject(new Error(`the NSFW classifier failed: ${message.error}`));
  }

  private fail(error: Error) {
    if (this.failure) return;
    this.failure = error;
    this.readySettled.reject(error);
    for (const request of this.waiting.values()) request.reject(error);
    this.waiting.clear();
    void this.worker.terminate();
    this.onFailure();
  }

  private holdProcess() {
    if (!this.loaded || this.waiting.size > 0) this.worker.ref();
    else this.worker.unref();
  }
}

function startWorker(): Worker {
  const runningTypeScript = import.meta.url.endsWith('.ts');
  const entry = new URL(runningTypeScript ? './nsfw-worker.ts' : './nsfw-worker.js', import.meta.url);
  if (!runningTypeScript) return new Worker(entry);
  // Under tsx (npm start) or vitest a worker thread does not inherit the TypeScript loader on
  // Node 20, so a one-line bootstrap registers tsx's before importing the entry.
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`));
}
