import { AmbiguousSubmitError, isPermanent } from '../../core/errors.js';
import type { RemoteTaskRef } from '../../core/job.js';
import { MODEL_PROFILES } from '../../core/models.js';
import type { BackendJob, SubmitHooks } from '../backend.js';
import type { AppAvailability } from './app-availability.js';
import { appRefFor, mapToApp } from './apps.js';
import { InferenceApiError } from './envelope.js';
import { abortError, type ErrorTranslator } from './errors.js';
import type { InferenceHttp } from './http.js';
import type { Task } from './task.js';
import type { InputUploader } from './upload.js';

/**
 * Starting a task, once (shared/specs/inference-sh-api.md §3.1, §14): the images are uploaded, the
 * request is written as the app's input, and `POST /apps/run` goes out after the worker has recorded
 * "submitting". A run is billed and has no idempotency key, so an answer that might hide a started
 * task is never followed by a second run.
 */

export interface SubmitContext {
  /** The backend's name, stored in the task reference. */
  backend: string;
  http: Pick<InferenceHttp, 'json'>;
  uploader: InputUploader;
  errors: ErrorTranslator;
  /** INFERENCE_APP, possibly pinned as `@version`. */
  configuredApp: string;
  /** Told when a run finds the app gone, so the next requests for the model are refused at once. */
  availability?: AppAvailability;
}

export class TaskStarter {
  constructor(private readonly context: SubmitContext) {}

  async start(job: BackendJob, hooks: SubmitHooks, signal: AbortSignal): Promise<RemoteTaskRef> {
    const { backend, http, uploader, errors } = this.context;
    const { request, log } = job;
    const profile = MODEL_PROFILES[request.model];
    const app = appRefFor(profile, this.context.configuredApp);
    try {
      hooks.progress({ phase: 'uploading', detail: 'uploading the image' });
      const image = await uploader.upload(
        request.input_image,
        await job.inputs.read(request.input_image),
        signal,
        log,
      );
      const endImage = request.end_frame
        ? await uploader.upload(request.end_frame, await job.inputs.read(request.end_frame), signal, log)
        : undefined;
      const { input, ignored } = mapToApp(request, profile, { image, ...(endImage ? { endImage } : {}) });
      if (ignored.length > 0) log.info({ ignored, app }, 'settings the app does not take were dropped');
      if (signal.aborted) throw abortError(signal);

      const submittedAt = Date.now();
      await hooks.persist({ backend, state: 'submitting', submittedAt });
      // In run mode the signal only ends the waits between attempts (429 backoff), when nothing is in
      // flight; a request that left is never aborted, since its task id must come back and be stored.
      const result = await http
        .json<Task>('POST', '/apps/run', { body: { app, input }, mode: 'run', signal, log })
        .catch(async (error: unknown) => {
          if (error instanceof InferenceApiError && error.status === 404) {
            await this.context.availability?.gone(profile.id, app);
          }
          throw error;
        });
      const taskId = typeof result?.id === 'string' && result.id ? result.id : undefined;
      if (!taskId) {
        throw new AmbiguousSubmitError(
          'inference.sh accepted the run request but returned no task id; a task may exist and be billed, so it was not sent again',
        );
      }
      const ref: RemoteTaskRef = { backend, state: 'submitted', taskId, submittedAt };
      await hooks.persist(ref);
      log.info({ taskId, app }, 'inference.sh task started');
      hooks.progress({ phase: 'submitted', detail: 'waiting for a GPU' });
      // Even when the signal aborted while the run was in flight, the task is not cancelled here: the
      // signal also ends for a worker shutdown, where the next worker re-attaches to the stored id. The
      // worker checks for a user's cancel right after submit and cancels the remote task only then.
      return ref;
    } catch (error) {
      if (signal.aborted && !isPermanent(error)) throw abortError(signal);
      throw errors.translate(error, { app });
    }
  }
}
