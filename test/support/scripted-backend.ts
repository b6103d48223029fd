import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type {
  BackendEvent,
  BackendJob,
  BackendOutput,
  SubmitHooks,
  VideoBackend,
  VideoStream,
} from '../../src/backends/backend.js';
import { CancelledError, TransientError, UserFacingError } from '../../src/core/errors.js';
import type { RemoteTaskRef } from '../../src/core/job.js';
import type { Logger } from '../../src/log.js';
import type { ScriptedTask } from './scripted-service.js';

/** A test double of a backend, talking HTTP to the scripted service so state survives worker crashes. */
export class ScriptedBackend implements VideoBackend {
  readonly name = 'scripted';

  constructor(
    private readonly serviceUrl: string,
    private readonly pollMs = 25,
  ) {}

  describeIgnored(): string[] {
    return [];
  }

  async submit(job: BackendJob, hooks: SubmitHooks, signal: AbortSignal): Promise<RemoteTaskRef> {
    // Read the stored input like a real backend would, so a missing image fails here.
    await job.inputs.read(job.request.input_image);
    const end = job.request.end_frame;
    const endBytes = end ? await job.inputs.read(end) : undefined;
    hooks.progress({ phase: 'uploading' });
    const submittedAt = Date.now();
    await hooks.persist({ backend: this.name, state: 'submitting', submittedAt });
    const res = await request(`${this.serviceUrl}/tasks`, {
      method: 'POST',
      body: JSON.stringify({
        prompt: job.request.prompt,
        seed: job.request.seed,
        ...(end && endBytes
          ? { endFrame: { width: end.width, height: end.height, bytes: endBytes.length } }
          : {}),
      }),
      signal,
    });
    const payload = (await res.body.json()) as { id?: string; error?: string };
    if (res.statusCode >= 500) throw new TransientError(`service answered ${res.statusCode}`);
    if (res.statusCode >= 400 || !payload.id) throw new UserFacingError(payload.error ?? 'refused');
    const ref: RemoteTaskRef = { backend: this.name, state: 'submitted', taskId: payload.id, submittedAt };
    await hooks.persist(ref);
    hooks.progress({ phase: 'submitted' });
    return ref;
  }

  async *follow(ref: RemoteTaskRef, _job: BackendJob, signal: AbortSignal): AsyncIterable<BackendEvent> {
    let lastStep = -1;
    while (true) {
      signal.throwIfAborted();
      const res = await request(`${this.serviceUrl}/tasks/${ref.taskId}`, { signal });
      const task = (await res.body.json()) as ScriptedTask;
      if (task.status === 'completed') {
        yield { type: 'completed', output: { location: `${this.serviceUrl}/video/${task.id}` } };
        return;
      }
      if (task.status === 'failed') throw new UserFacingError(task.error ?? 'the task failed');
      if (task.status === 'cancelled') throw new CancelledError();
      if (task.step !== lastStep) {
        lastStep = task.step;
        yield {
          type: 'progress',
          progress: {
            phase: task.status === 'queued' ? 'submitted' : 'running',
            percent: Math.floor((task.step / task.steps) * 100),
            detail: `step ${task.step}/${task.steps}`,
          },
        };
      }
      await sleep(this.pollMs, undefined, { signal });
    }
  }

  async cancel(ref: RemoteTaskRef, _log: Logger): Promise<void> {
    await request(`${this.serviceUrl}/tasks/${ref.taskId}/cancel`, { method: 'POST' }).then((r) =>
      r.body.dump(),
    );
  }

  async download(output: BackendOutput, signal: AbortSignal): Promise<VideoStream> {
    const res = await request(output.location, { signal });
    return { stream: res.body, contentType: 'video/mp4' };
  }
}
