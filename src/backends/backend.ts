import type { Readable } from 'node:stream';
import type { RemoteTaskRef } from '../core/job.js';
import type { GenerationRequest, ModelId } from '../core/request.js';
import type { Logger } from '../log.js';
import type { InputStore } from '../storage/inputs.js';

/**
 * The one interface every backend (inference.sh, a self-hosted ComfyUI pool, test doubles)
 * implements. The worker owns the job lifecycle; a backend only talks to its service.
 */

export interface BackendJob {
  jobId: string;
  request: GenerationRequest;
  inputs: InputStore;
  log: Logger;
}

export interface BackendProgress {
  phase: 'uploading' | 'submitted' | 'running' | 'encoding';
  percent?: number;
  etaAt?: number;
  detail?: string;
  backendQueuePosition?: number;
}

/** Where the finished video is; opaque to everyone but the backend that made it. */
export interface BackendOutput {
  location: string;
  contentType?: string;
  bytes?: number;
}

export type BackendEvent =
  | { type: 'progress'; progress: BackendProgress }
  | { type: 'completed'; output: BackendOutput };

export interface SubmitHooks {
  /**
   * Called (and awaited) right before the paid request goes out, and again with the task id the
   * moment it is known. The worker persists each call, so a crash after this point re-attaches.
   */
  persist(ref: RemoteTaskRef): Promise<void>;
  progress(progress: BackendProgress): void;
}

export interface VideoStream {
  stream: Readable;
  bytes?: number;
  contentType?: string;
}

/** Why a model cannot run at all, as a backend found out (e.g. its inference.sh app is gone). */
export interface ModelUnavailability {
  /** Where it cannot run, as a person knows it: "inference.sh". */
  service: string;
  /** Short, to follow "not available … any more": "the app was retired". */
  reason: string;
}

/**
 * Told by a backend when a model's service is gone or back (the app answered 404, or answers again),
 * so new requests for it can be refused at once instead of queueing a job that will fail. Given to
 * the backend by the process that wires it; the backend never knows where the news goes.
 */
export interface ModelAvailabilitySink {
  unavailable(model: ModelId, why: ModelUnavailability): Promise<void>;
  available(model: ModelId): Promise<void>;
}

export interface VideoBackend {
  readonly name: string;
  /** Settings of this request the backend will not apply; shown to the user as notes. */
  describeIgnored(request: GenerationRequest): string[];
  /** Uploads inputs and starts the remote task. Throws AmbiguousSubmitError when unsure it started. */
  submit(job: BackendJob, hooks: SubmitHooks, signal: AbortSignal): Promise<RemoteTaskRef>;
  /** Follows a task (new or re-attached) until it ends; yields progress, then one `completed`. */
  follow(ref: RemoteTaskRef, job: BackendJob, signal: AbortSignal): AsyncIterable<BackendEvent>;
  /** Cancels the remote task and waits (bounded) until the service says it stopped. */
  cancel(ref: RemoteTaskRef, log: Logger): Promise<void>;
  /** Opens the finished video as a stream, bounded in size and time. */
  download(output: BackendOutput, signal: AbortSignal): Promise<VideoStream>;
  /** Whether the backend can take work right now; a short reason when not. */
  health?(): Promise<{ ok: boolean; message?: string }>;
  close?(): Promise<void>;
}
