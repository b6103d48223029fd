import { pipeline, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type Dispatcher, request } from 'undici';
import {
  AmbiguousSubmitError,
  CancelledError,
  ConfigurationError,
  isPermanent,
  TransientError,
  UserFacingError,
} from '../../core/errors.js';
import type { RemoteTaskRef } from '../../core/job.js';
import {
  appName,
  effectiveShape,
  MODEL_PROFILES,
  type ModelProfile,
  mapToApp,
  modelForApp,
  resolutionOf,
} from '../../core/models.js';
import { FIELD_INFO, type GenerationRequest, MODEL_IDS, type StoredImage } from '../../core/request.js';
import { createLogger, type Logger } from '../../log.js';
import type {
  BackendEvent,
  BackendJob,
  BackendOutput,
  BackendProgress,
  SubmitHooks,
  VideoBackend,
  VideoStream,
} from '../backend.js';
import { type DurationHistory, percentFromElapsed } from '../durations.js';
import {
  classifyNetworkError,
  InferenceApiError,
  InferenceHttp,
  type InferenceTimeouts,
  NetworkError,
  type RetryPolicy,
  serverWaitMs,
} from './http.js';
import { watchTask } from './stream.js';
import {
  activeSinceFromEvents,
  describeStatus,
  isActive,
  isTerminal,
  outputFile,
  type StatusName,
  StatusReader,
  type Task,
} from './task.js';

/**
 * The inference.sh backend: uploads the stored image, starts the app's task once (never twice: a
 * run is billed and has no idempotency key), follows it by stream or polling, and fetches the mp4.
 * Specs: shared/specs/inference-sh-api.md and shared/specs/wan-apps.md.
 */

export interface InferenceBackendOptions {
  /** Default `https://api.inference.sh`. */
  apiUrl?: string;
  /** `INFERENCE_API_KEY`; sent only to the API origin, never to storage or output hosts. */
  apiKey: string;
  /** `INFERENCE_APP`, `namespace/name` optionally pinned as `@version`. Default `infsh/wan2-1-i2v`. */
  app?: string;
  durations: DurationHistory;
  /** Extra hosts (`host`, `host:port`, `*.domain` or a URL) results may be downloaded from. */
  outputHosts?: string[];
  /** Largest result accepted, in bytes. Default 512 MiB. */
  maxOutputBytes?: number;
  timeouts?: Partial<InferenceTimeouts>;
  /** Retries of idempotent calls (and of runs that certainly never left). */
  retry?: Partial<RetryPolicy>;
  /** Stream reconnects in a row before switching to polling, and their backoff. */
  reconnect?: Partial<{ budget: number; baseMs: number; maxMs: number }>;
  /** Polling interval once the stream is given up (jittered ±20 %). Default 4 s. */
  pollIntervalMs?: number;
  /** Failed polls in a row before the job is handed back as a TransientError. Default 30. */
  maxPollErrors?: number;
  /**
   * While the stream is open, how often the full task is fetched anyway, so a stream that sends
   * heartbeats but never the terminal line cannot hold a job forever. Default 60 s.
   */
  streamResyncMs?: number;
  /**
   * How long after submission a task is followed at most before the job is handed back as a
   * TransientError. Default 26 h: the service expires tasks queued for about 24 h.
   */
  followDeadlineMs?: number;
  /** How long cancel() waits for a terminal status, and how often it looks. Defaults 30 s and 1 s. */
  cancelWaitMs?: number;
  cancelPollMs?: number;
  /** Run-time estimate before any history exists: base + perStep · steps · frames/81 (×2.25 at 720p). */
  fallbackDuration?: Partial<{ baseMs: number; perStepMs: number }>;
  userAgent?: string;
  /** A shared undici dispatcher; by default the backend makes (and closes) its own Agent. */
  dispatcher?: Dispatcher;
  /** For calls outside a job (checkApp, close). */
  log?: Logger;
}

export const INFERENCE_DEFAULTS = {
  apiUrl: 'https://api.inference.sh',
  app: 'infsh/wan2-1-i2v',
  maxOutputBytes: 512 * 1024 * 1024,
  timeouts: { connectMs: 10_000, jsonMs: 30_000, streamSilenceMs: 45_000, downloadMs: 180_000 },
  retry: { attempts: 5, baseMs: 1_000, maxMs: 60_000, maxWaitMs: 120_000 },
  reconnect: { budget: 5, baseMs: 1_000, maxMs: 30_000 },
  pollIntervalMs: 4_000,
  maxPollErrors: 30,
  streamResyncMs: 60_000,
  followDeadlineMs: 26 * 3_600_000,
  cancelWaitMs: 30_000,
  cancelPollMs: 1_000,
  fallbackDuration: { baseMs: 60_000, perStepMs: 6_000 },
  userAgent: 'kinema-bot (+inference.sh backend)',
} as const satisfies Omit<
  Required<InferenceBackendOptions>,
  'apiKey' | 'durations' | 'outputHosts' | 'dispatcher' | 'log'
>;

/** The Redis key of the run-time history for a request's shape on an app. */
export function durationKey(request: GenerationRequest, app: string): string {
  const profile = MODEL_PROFILES[request.model];
  const shape = effectiveShape(request, profile);
  return `inference:${appName(app)}:${resolutionOf(shape.size)}:${shape.numFrames}f:${shape.steps}s`;
}

/** Progress bands per phase; within `running`, time against the estimate (or printed steps) moves it. */
const FLOOR: Record<string, number> = {
  'waiting for a GPU': 1,
  starting: 5,
  'loading the model': 10,
  generating: 15,
  finishing: 95,
};

/** A step counter in an app's log: `step 12/30`, `denoising 3/4`, or a tqdm bar `12/30 [00:41<…]`. */
const STEP_PATTERN = /(?:step|steps|denois\w*|sampling)\D{0,12}?(\d+)\s*\/\s*(\d+)|(\d+)\s*\/\s*(\d+)\s*\[/i;

/**
 * Logs whose counters may be sampler steps: task (4) and run (1). Build (0), serve (2) and setup (3)
 * print other counters ("Loading checkpoint shards 3/3") that say nothing about generation.
 */
const STEP_LOG_TYPES = new Set([4, 1]);

/** The percentage and status text of a task, from its status, its events and its logs (§8). */
export class ProgressEstimate {
  private percent = 0;
  private status: StatusName = 'received';
  activeSince: number | undefined;
  /** True when activeSince is the real start (from events or seen live), good enough to learn from. */
  reliable = false;
  private step: { n: number; of: number } | undefined;
  private lastShown = '';

  /**
   * @param steps the sampler steps the run uses (the request's, else the profile default): a counter
   * in the logs counts as progress only when its denominator is exactly this.
   */
  constructor(
    private readonly expectedMs: number,
    private readonly reader: StatusReader,
    private readonly steps: number,
  ) {}

  observe(status: StatusName | undefined, task: Task, now: number) {
    if (status && status !== 'unknown') this.status = status;
    if (this.activeSince === undefined) {
      const fromEvents = activeSinceFromEvents(task, this.reader);
      if (fromEvents !== undefined) {
        this.activeSince = Math.min(fromEvents, now);
        this.reliable = true;
      } else if (status && isActive(status)) {
        this.activeSince = now;
        this.reliable = status === 'dispatched' || status === 'preparing';
      }
    }
    const logs = Array.isArray(task.logs) ? task.logs : [];
    for (let i = logs.length - 1; i >= 0; i -= 1) {
      const entry = logs[i];
      if (!entry || !STEP_LOG_TYPES.has(Number(entry.log_type))) continue;
      const match = STEP_PATTERN.exec(String(entry.content ?? ''));
      const n = Number(match?.[1] ?? match?.[3]);
      const of = Number(match?.[2] ?? match?.[4]);
      if (match && of > 0 && of === this.steps && n <= of) {
        // Only ever forward: an older line seen again (a full log list) does not move it back.
        if (!this.step || n > this.step.n) this.step = { n, of };
        break;
      }
    }
  }

  /** The progress to show now, or undefined when nothing visible changed. */
  next(now: number): BackendProgress | undefined {
    const { phase, detail: base } = describeStatus(this.status);
    let detail = base;
    let percent = Math.max(this.percent, FLOOR[base] ?? 0);
    let etaAt: number | undefined;
    if (this.activeSince !== undefined && phase === 'running') {
      percent = Math.max(percent, percentFromElapsed(now - this.activeSince, this.expectedMs, 5, 99));
      const planned = this.activeSince + this.expectedMs;
      etaAt = planned > now + 2_000 ? planned : now + Math.max(5_000, this.expectedMs * 0.1);
    }
    if (this.status === 'running' && this.step) {
      detail = `generating (step ${this.step.n}/${this.step.of})`;
      percent = Math.max(percent, Math.floor(15 + (80 * this.step.n) / this.step.of));
    }
    this.percent = Math.min(99, percent);
    const progress: BackendProgress = { phase, percent: this.percent, detail, ...(etaAt ? { etaAt } : {}) };
    const shown = `${phase}|${this.percent}|${detail}|${etaAt ? Math.round(etaAt / 1000) : ''}`;
    if (shown === this.lastShown) return undefined;
    this.lastShown = shown;
    return progress;
  }
}

/** Statuses after which a download follows `Location` (by hand: undici's `request` does not). */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

const abortError = (signal: AbortSignal): Error =>
  signal.reason instanceof Error
    ? signal.reason
    : new DOMException('the operation was aborted', 'AbortError');

export class InferenceBackend implements VideoBackend {
  readonly name = 'inference';
  private readonly http: InferenceHttp;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly app: string;
  private readonly apiHost: string;
  private readonly timeouts: InferenceTimeouts;
  private readonly retry: RetryPolicy;
  private readonly reconnect: { budget: number; baseMs: number; maxMs: number };
  private readonly log: Logger;

  constructor(private readonly options: InferenceBackendOptions) {
    const apiUrl = options.apiUrl ?? INFERENCE_DEFAULTS.apiUrl;
    this.app = options.app ?? INFERENCE_DEFAULTS.app;
    this.timeouts = { ...INFERENCE_DEFAULTS.timeouts, ...options.timeouts };
    this.retry = { ...INFERENCE_DEFAULTS.retry, ...options.retry };
    this.reconnect = { ...INFERENCE_DEFAULTS.reconnect, ...options.reconnect };
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      new Agent({ connect: { timeout: this.timeouts.connectMs }, connectTimeout: this.timeouts.connectMs });
    this.http = new InferenceHttp({
      apiUrl,
      apiKey: options.apiKey,
      dispatcher: this.dispatcher,
      timeouts: this.timeouts,
      retry: this.retry,
      userAgent: options.userAgent ?? INFERENCE_DEFAULTS.userAgent,
    });
    this.apiHost = this.http.origin.host;
    this.log = options.log ?? createLogger('silent', 'inference');
  }

  /** The app reference to run a profile with: the configured one (keeping a pinned @version) when it is that app. */
  appFor(profile: ModelProfile): string {
    return appName(this.app) === profile.app ? this.app : profile.app;
  }

  describeIgnored(request: GenerationRequest): string[] {
    const profile = MODEL_PROFILES[request.model];
    const { ignored, inert } = mapToApp(request, profile, { image: 'about:blank' });
    return [
      ...ignored.map((name) => `${name} is not used by ${profile.label} and was ignored`),
      ...inert.map((name) => `${name} is accepted by ${profile.label} but has no effect there`),
    ];
  }

  async submit(job: BackendJob, hooks: SubmitHooks, signal: AbortSignal): Promise<RemoteTaskRef> {
    const { request, log } = job;
    const profile = MODEL_PROFILES[request.model];
    const app = this.appFor(profile);
    try {
      hooks.progress({ phase: 'uploading', detail: 'uploading the image' });
      const image = await this.upload(
        request.input_image,
        await job.inputs.read(request.input_image),
        signal,
        log,
      );
      const endImage = request.end_frame
        ? await this.upload(request.end_frame, await job.inputs.read(request.end_frame), signal, log)
        : undefined;
      const { input, ignored } = mapToApp(request, profile, { image, ...(endImage ? { endImage } : {}) });
      if (ignored.length > 0) log.info({ ignored, app }, 'settings the app does not take were dropped');
      if (signal.aborted) throw abortError(signal);

      const submittedAt = Date.now();
      await hooks.persist({ backend: this.name, state: 'submitting', submittedAt });
      // In run mode the signal only ends the waits between attempts (429 backoff), when nothing is in
      // flight; a request that left is never aborted, since its task id must come back and be stored.
      const result = await this.http.json<Task>('POST', '/apps/run', {
        body: { app, input },
        mode: 'run',
        signal,
        log,
      });
      const taskId = typeof result?.id === 'string' && result.id ? result.id : undefined;
      if (!taskId) {
        throw new AmbiguousSubmitError(
          'inference.sh accepted the run request but returned no task id; a task may exist and be billed, so it was not sent again',
        );
      }
      const ref: RemoteTaskRef = { backend: this.name, state: 'submitted', taskId, submittedAt };
      await hooks.persist(ref);
      log.info({ taskId, app }, 'inference.sh task started');
      hooks.progress({ phase: 'submitted', detail: 'waiting for a GPU' });
      // Even when the signal aborted while the run was in flight, the task is not cancelled here: the
      // signal also ends for a worker shutdown, where the next worker re-attaches to the stored id. The
      // worker checks for a user's cancel right after submit and cancels the remote task only then.
      return ref;
    } catch (error) {
      if (signal.aborted && !isPermanent(error)) throw abortError(signal);
      throw this.translate(error, { app });
    }
  }

  /** POST /files, then the presigned PUT (§10.1); a 403 on the PUT (expired URL) starts again once. */
  private async upload(image: StoredImage, bytes: Buffer, signal: AbortSignal, log: Logger): Promise<string> {
    for (let round = 1; round <= 2; round += 1) {
      const records = await this.http.json<unknown>('POST', '/files', {
        body: {
          files: [{ uri: '', filename: image.filename, content_type: image.contentType, size: bytes.length }],
        },
        mode: 'idempotent',
        signal,
        log,
      });
      const record = (Array.isArray(records) ? records[0] : records) as
        | { uri?: unknown; upload_url?: unknown }
        | undefined;
      if (!record || typeof record.upload_url !== 'string' || !record.upload_url) {
        throw new TransientError('inference.sh created no upload URL for the input image');
      }
      if (typeof record.uri !== 'string' || !record.uri) {
        throw new TransientError('inference.sh returned a file record without a uri for the input image');
      }
      const put = await this.put(record.upload_url, bytes, image.contentType, signal, log);
      if (put === 'stored') return record.uri;
      log.warn({ round }, 'the upload URL was refused (expired?); asking inference.sh for a new one');
    }
    throw new TransientError('the storage of inference.sh refused the input image upload twice (HTTP 403)');
  }

  private async put(
    url: string,
    bytes: Buffer,
    contentType: string,
    signal: AbortSignal,
    log: Logger,
  ): Promise<'stored' | 'refused'> {
    const timeoutMs = Math.max(this.timeouts.downloadMs, Math.ceil(bytes.length / 256)); // ≥ 256 KB/s
    const attempts = Math.max(1, this.retry.attempts);
    let reason = '';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        // A Buffer body: undici sends Content-Length and no chunked encoding. No Authorization here.
        const res = await this.http.send('PUT', url, {
          headers: {
            'content-type': contentType || 'application/octet-stream',
            'content-length': String(bytes.length),
          },
          body: bytes,
          signal,
          timeoutMs,
          auth: false,
        });
        if (res.status >= 200 && res.status < 300) return 'stored';
        if (res.status === 403) return 'refused';
        reason = `HTTP ${res.status}`;
        if (res.status !== 429 && res.status < 500) {
          throw new TransientError(
            `the storage of inference.sh refused the input image (HTTP ${res.status}: ${this.http.scrub(res.text.slice(0, 200))})`,
          );
        }
        if (attempt < attempts)
          await sleep(this.http.backoffMs(attempt, serverWaitMs(res.headers)), undefined, { signal });
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        reason = error.message;
        log.warn({ attempt, code: error.code }, 'input upload failed at the network level');
        if (attempt < attempts) await sleep(this.http.backoffMs(attempt), undefined, { signal });
      }
    }
    throw new TransientError(`uploading the input image to inference.sh failed (${this.http.scrub(reason)})`);
  }

  async *follow(ref: RemoteTaskRef, job: BackendJob, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    const taskId = ref.taskId;
    if (!taskId) {
      throw new AmbiguousSubmitError(
        'an earlier attempt stopped while submitting to inference.sh, so a task may exist and be billed; it was not submitted again',
      );
    }
    const { request, log } = job;
    const profile = MODEL_PROFILES[request.model];
    const app = this.appFor(profile);
    const key = durationKey(request, app);
    const fallback = this.fallbackDurationMs(request, profile);
    const estimate = await this.options.durations.estimate(key, fallback).catch((error: unknown) => {
      log.warn({ err: error }, 'reading the duration history failed');
      return { ms: fallback, samples: 0 };
    });
    const reader = new StatusReader();
    const progress = new ProgressEstimate(estimate.ms, reader, effectiveShape(request, profile).steps);
    const seenLogs = new Set<string>();
    // Measured from submission, so re-attaching after a restart or a retry does not extend it.
    const deadlineMs = this.options.followDeadlineMs ?? INFERENCE_DEFAULTS.followDeadlineMs;
    const followFrom =
      Number.isFinite(ref.submittedAt) && ref.submittedAt > 0
        ? Math.min(ref.submittedAt, Date.now())
        : Date.now();
    try {
      for await (const event of watchTask({
        http: this.http,
        taskId,
        signal,
        log,
        reconnectBudget: this.reconnect.budget,
        reconnectBackoff: this.reconnect,
        pollIntervalMs: this.options.pollIntervalMs ?? INFERENCE_DEFAULTS.pollIntervalMs,
        maxPollErrors: this.options.maxPollErrors ?? INFERENCE_DEFAULTS.maxPollErrors,
        resyncEveryMs: this.options.streamResyncMs ?? INFERENCE_DEFAULTS.streamResyncMs,
        deadlineAt: followFrom + deadlineMs,
        deadlineMs,
      })) {
        if (signal.aborted) throw abortError(signal);
        const now = Date.now();
        if (event.kind === 'terminal') {
          if (event.status === 'cancelled') throw new CancelledError();
          if (event.status === 'failed') {
            throw new UserFacingError(
              `inference.sh could not make the video: ${this.http.scrub(event.error ?? 'task failed')}`,
            );
          }
          const file = outputFile(event.task.output, profile.outputField);
          if (!file) {
            throw new UserFacingError(
              `inference.sh finished task ${taskId} but its output holds no video file (expected "${profile.outputField}")`,
            );
          }
          progress.observe(undefined, event.task, now);
          if (progress.activeSince !== undefined && progress.reliable) {
            await this.options.durations
              .record(key, now - progress.activeSince)
              .catch((error: unknown) => log.warn({ err: error }, 'recording the run time failed'));
          }
          log.info(
            { taskId, ms: progress.activeSince ? now - progress.activeSince : undefined },
            'inference.sh task completed',
          );
          yield {
            type: 'completed',
            output: {
              location: file.url,
              ...(file.contentType ? { contentType: file.contentType } : {}),
              ...(file.bytes ? { bytes: file.bytes } : {}),
            },
          };
          return;
        }
        if (event.kind === 'update') {
          progress.observe(event.status, event.task, now);
          for (const entry of Array.isArray(event.task.logs) ? event.task.logs : []) {
            const id = entry.id ?? `${entry.created_at}|${entry.content}`;
            if (seenLogs.has(id)) continue;
            seenLogs.add(id);
            log.debug({ taskId, logType: entry.log_type, content: entry.content }, 'inference.sh task log');
          }
        }
        // A terminal update is followed at once by the terminal event; no progress line in between.
        if (event.kind === 'update' && isTerminal(event.status)) continue;
        const next = progress.next(now);
        if (next) yield { type: 'progress', progress: next };
      }
      throw new TransientError(`following inference.sh task ${taskId} ended without a result`);
    } catch (error) {
      if (signal.aborted && !(error instanceof CancelledError)) throw abortError(signal);
      throw this.translate(error, { taskId });
    }
  }

  async cancel(ref: RemoteTaskRef, log: Logger): Promise<void> {
    const taskId = ref.taskId;
    if (!taskId) {
      log.warn('no inference.sh task id is known, so there is nothing to cancel');
      return;
    }
    const path = `/tasks/${encodeURIComponent(taskId)}`;
    try {
      await this.http.json('POST', `${path}/cancel`, { emptyBody: true, mode: 'idempotent', log });
    } catch (error) {
      // The answer for a finished task is unconfirmed (§9): on a 4xx look at the task itself.
      if (error instanceof InferenceApiError && [401, 403].includes(error.status))
        throw this.translate(error, { taskId });
      if (error instanceof InferenceApiError && error.status === 404) {
        log.warn({ taskId }, 'inference.sh does not know the task any more; nothing to cancel');
        return;
      }
      log.warn({ taskId, err: error }, 'the cancel request failed; checking the task');
    }
    const reader = new StatusReader();
    const deadline = Date.now() + (this.options.cancelWaitMs ?? INFERENCE_DEFAULTS.cancelWaitMs);
    const interval = this.options.cancelPollMs ?? INFERENCE_DEFAULTS.cancelPollMs;
    for (;;) {
      try {
        const task = await this.http.json<Task>('GET', path, { mode: 'once', log });
        const status = reader.read(task ?? {});
        if (isTerminal(status)) {
          log.info({ taskId, status }, 'inference.sh task stopped');
          return;
        }
      } catch (error) {
        if (error instanceof InferenceApiError && [401, 403, 404].includes(error.status)) {
          log.warn({ taskId, status: error.status }, 'cannot see the task after cancelling');
          return;
        }
        log.warn({ taskId, err: error }, 'checking the cancelled task failed');
      }
      if (Date.now() + interval > deadline) {
        log.warn({ taskId }, 'inference.sh did not confirm the cancel in time');
        return;
      }
      await sleep(interval);
    }
  }

  /** Whether a result URL may be fetched: the API host, *.inference.sh, or a configured output host. */
  isAllowedOutputHost(url: URL): boolean {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
    const host = url.host.toLowerCase();
    const hostname = url.hostname.toLowerCase();
    // The API's own machine on any port: a storage or CDN origin beside a self-hosted or proxied API.
    if (
      host === this.apiHost.toLowerCase() ||
      hostname === new URL(`http://${this.apiHost}`).hostname.toLowerCase()
    )
      return true;
    if (url.protocol === 'https:' && (hostname === 'inference.sh' || hostname.endsWith('.inference.sh')))
      return true;
    return (this.options.outputHosts ?? []).some((raw) => {
      let entry = raw.trim().toLowerCase();
      if (!entry) return false;
      if (entry.includes('://')) {
        try {
          entry = new URL(entry).host;
        } catch {
          return false;
        }
      }
      if (entry.startsWith('*.')) return hostname.endsWith(entry.slice(1));
      return entry.includes(':') ? host === entry : hostname === entry;
    });
  }

  async download(output: BackendOutput, signal: AbortSignal): Promise<VideoStream> {
    const max = this.options.maxOutputBytes ?? INFERENCE_DEFAULTS.maxOutputBytes;
    let url: URL;
    try {
      url = new URL(output.location);
    } catch {
      throw new UserFacingError(
        `inference.sh returned a result location that is not a URL: ${output.location.slice(0, 200)}`,
      );
    }
    const shown = `${url.protocol}//${url.host}${url.pathname}`;
    if (!this.isAllowedOutputHost(url)) {
      throw new ConfigurationError(
        `refusing to download the result from ${url.host}: results are fetched only from the inference.sh API's host, *.inference.sh and the hosts listed in INFERENCE_OUTPUT_HOSTS (add ${url.host} there if it is trusted)`,
      );
    }
    const tooLarge = (bytes: number) =>
      new UserFacingError(
        `the video is ${(bytes / 1024 / 1024).toFixed(1)} MiB, more than the ${(max / 1024 / 1024).toFixed(1)} MiB the bot accepts (MAX_OUTPUT_BYTES); try fewer frames or a lower resolution`,
      );
    if (output.bytes && output.bytes > max) throw tooLarge(output.bytes);
    const attempts = Math.max(1, this.retry.attempts);
    let reason = '';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      // The whole transfer is bounded: downloadMs, stretched for a large file to at least 1 MiB/s.
      const timeout = new AbortController();
      const expire = () => timeout.abort(new Error('the download took too long'));
      let timer = setTimeout(expire, this.timeouts.downloadMs).unref();
      const combined = AbortSignal.any([signal, timeout.signal]);
      let res: Dispatcher.ResponseData;
      try {
        res = await this.fetchFollowingRedirects(url, combined);
      } catch (error) {
        clearTimeout(timer);
        if (signal.aborted) throw abortError(signal);
        if (isPermanent(error) || error instanceof TransientError) throw error;
        const network = classifyNetworkError(error, timeout.signal.aborted);
        reason = network.message;
        if (attempt < attempts) await sleep(this.http.backoffMs(attempt), undefined, { signal });
        continue;
      }
      if (res.statusCode >= 200 && res.statusCode < 300) {
        const header = res.headers['content-length'];
        const length = Number(Array.isArray(header) ? header[0] : header);
        if (Number.isFinite(length) && length > max) {
          clearTimeout(timer);
          res.body.on('error', () => {}).destroy();
          throw tooLarge(length);
        }
        if (Number.isFinite(length) && length / 1024 > this.timeouts.downloadMs) {
          clearTimeout(timer);
          timer = setTimeout(expire, Math.ceil(length / 1024)).unref();
        }
        const typeHeader = res.headers['content-type'];
        const contentType = (Array.isArray(typeHeader) ? typeHeader[0] : typeHeader) ?? output.contentType;
        let counted = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            counted += chunk.length;
            if (counted > max) callback(tooLarge(counted));
            else callback(null, chunk);
          },
        });
        pipeline(res.body, counter, () => clearTimeout(timer));
        return {
          stream: counter,
          ...(Number.isFinite(length) && length >= 0 ? { bytes: length } : {}),
          ...(contentType ? { contentType } : {}),
        };
      }
      const text = await res.body.text().catch(() => '');
      clearTimeout(timer);
      reason = `HTTP ${res.statusCode}`;
      if (res.statusCode === 404 || res.statusCode === 410 || res.statusCode === 403) {
        throw new UserFacingError(
          `the finished video is no longer available at inference.sh (${reason} for ${shown}); run the job again`,
        );
      }
      if (res.statusCode !== 429 && res.statusCode < 500) {
        throw new TransientError(
          `downloading the result from ${shown} failed (${reason}: ${text.slice(0, 200)})`,
        );
      }
      if (attempt < attempts) {
        const wait = this.http.backoffMs(attempt, serverWaitMs(res.headers));
        await sleep(Math.min(wait, this.retry.maxWaitMs), undefined, { signal });
      }
    }
    throw new TransientError(
      `downloading the result from ${shown} failed (${this.http.scrub(reason)}) after ${attempts} attempts`,
    );
  }

  /**
   * A plain GET of a result URL (no Authorization: output URLs are unauthenticated and must never see
   * the API key). undici's `request` does not follow redirects, so up to MAX_REDIRECTS hops are
   * followed here, each target checked again with isAllowedOutputHost before anything is sent to it.
   */
  private async fetchFollowingRedirects(start: URL, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    let url = start;
    for (let hop = 0; ; hop += 1) {
      const res = await request(url, {
        method: 'GET',
        headers: {
          accept: 'video/mp4,video/*;q=0.9,*/*;q=0.5',
          'user-agent': INFERENCE_DEFAULTS.userAgent,
        },
        signal,
        dispatcher: this.dispatcher,
        headersTimeout: this.timeouts.jsonMs,
        bodyTimeout: this.timeouts.streamSilenceMs,
      });
      const header = res.headers.location;
      const location = Array.isArray(header) ? header[0] : header;
      if (!REDIRECTS.has(res.statusCode) || !location) return res;
      res.body.on('error', () => {}).destroy();
      const from = `${url.protocol}//${url.host}${url.pathname}`;
      if (hop >= MAX_REDIRECTS) {
        throw new TransientError(
          `downloading the result failed: more than ${MAX_REDIRECTS} redirects (the last from ${from})`,
        );
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new TransientError(
          `downloading the result failed: ${from} redirected to an invalid location (${this.http.scrub(location.slice(0, 200))})`,
        );
      }
      if (!this.isAllowedOutputHost(next)) {
        throw new ConfigurationError(
          `refusing to follow the redirect of the result from ${url.host} to ${next.host}: results are fetched only from the inference.sh API's host, *.inference.sh and the hosts listed in INFERENCE_OUTPUT_HOSTS (add ${next.host} there if it is trusted)`,
        );
      }
      url = next;
    }
  }

  /**
   * Compares the app's published input schema with the adapter (wan-apps.md, rule 3): required fields
   * the adapter cannot fill, fields it sends that the app lacks, and enum values it may send that the
   * app does not list. Returns one message per mismatch; empty means they agree.
   */
  async checkApp(model = modelForApp(this.app)?.id): Promise<string[]> {
    const profile = model ? MODEL_PROFILES[model] : undefined;
    if (!profile) {
      return [
        `INFERENCE_APP ${this.app} matches none of Kinema's models (${MODEL_IDS.join(', ')}), so no adapter can drive it`,
      ];
    }
    const app = this.appFor(profile);
    const [namespace, name] = appName(app).split('/');
    try {
      const found = await this.http.json<unknown>(
        'GET',
        `/apps/${encodeURIComponent(namespace ?? '')}/${encodeURIComponent(name ?? '')}`,
        { mode: 'idempotent', log: this.log },
      );
      return compareAppSchema(profile, found, app);
    } catch (error) {
      if (error instanceof InferenceApiError && error.status === 404) {
        return [this.unavailable(app, profile).message];
      }
      throw this.translate(error, { what: `checking app ${app}` });
    }
  }

  /** Reachability, key and app in one cheap call: `GET /apps/{namespace}/{name}` of INFERENCE_APP. */
  async health(): Promise<{ ok: boolean; message?: string }> {
    const [namespace, name] = appName(this.app).split('/');
    try {
      await this.http.json(
        'GET',
        `/apps/${encodeURIComponent(namespace ?? '')}/${encodeURIComponent(name ?? '')}`,
        {
          mode: 'once',
          log: this.log,
        },
      );
      return { ok: true };
    } catch (error) {
      const profile = modelForApp(this.app);
      if (error instanceof InferenceApiError && error.status === 404 && profile) {
        return { ok: false, message: this.unavailable(this.app, profile).message };
      }
      const translated = this.translate(error, { what: 'health check' });
      return { ok: false, message: translated.message };
    }
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private fallbackDurationMs(request: GenerationRequest, profile: ModelProfile): number {
    const shape = effectiveShape(request, profile);
    const { baseMs, perStepMs } = {
      ...INFERENCE_DEFAULTS.fallbackDuration,
      ...this.options.fallbackDuration,
    };
    const area = resolutionOf(shape.size) === '720p' ? 2.25 : 1;
    return Math.round(baseMs + perStepMs * shape.steps * (shape.numFrames / 81) * area);
  }

  private unavailable(app: string, profile: ModelProfile): ConfigurationError {
    const configured = modelForApp(this.app);
    const others = MODEL_IDS.filter((id) => MODEL_PROFILES[id].app !== profile.app);
    const hint =
      configured && configured.app !== profile.app
        ? `Use the model ${configured.id} (the configured INFERENCE_APP ${this.app}) instead, or pick another model (${others.join(', ')}).`
        : `Pick another model (${others.join(', ')}) or set INFERENCE_APP to an app that exists, e.g. ${MODEL_PROFILES[others[0] ?? 'wan2.2-a14b'].app}.`;
    return new ConfigurationError(
      `model unavailable: inference.sh has no app ${app} (${profile.label}; it may have been retired). ${hint}`,
    );
  }

  /** Turns anything thrown into one of the pipeline's error types, with a message a person can act on. */
  private translate(error: unknown, context: { app?: string; taskId?: string; what?: string }): Error {
    if (isPermanent(error) || error instanceof TransientError) return error as Error;
    if (error instanceof InferenceApiError) {
      const detail = this.http.scrub(error.detail);
      if (error.status === 401 || error.status === 403) {
        return new ConfigurationError(
          `inference.sh refused the API key (HTTP ${error.status} ${error.code}: ${detail}): INFERENCE_API_KEY is invalid or lacks permission; set a valid inference.sh key (it starts with inf_) and restart`,
          { cause: error },
        );
      }
      if (error.status === 412) {
        const list = error.requirements
          .map((r) => r.message ?? r.key ?? r.type)
          .filter((m): m is string => typeof m === 'string' && m !== '')
          .map((m) => this.http.scrub(m));
        return new ConfigurationError(
          `inference.sh cannot run the app until its requirements are met: ${list.length > 0 ? list.join('; ') : detail}`,
          { cause: error },
        );
      }
      if (error.status === 404 && context.app) {
        const profile = modelForApp(context.app);
        return profile
          ? this.unavailable(context.app, profile)
          : new ConfigurationError(`model unavailable: inference.sh has no app ${context.app}`);
      }
      if (error.status === 404 && context.taskId) {
        return new UserFacingError(
          `inference.sh no longer knows task ${context.taskId} (it may have been deleted, or it belongs to another API key); run the job again`,
          { cause: error },
        );
      }
      if (error.status === 429 || error.status >= 500) {
        return new TransientError(
          `inference.sh is busy or failing (HTTP ${error.status}: ${detail})`,
          error.retryAfterMs,
          {
            cause: error,
          },
        );
      }
      if (error.status === 400 || error.status === 422) {
        return new UserFacingError(`inference.sh rejected the request: ${detail}`, { cause: error });
      }
      return new UserFacingError(
        `inference.sh refused the request (HTTP ${error.status} ${error.code}): ${detail}`,
        {
          cause: error,
        },
      );
    }
    if (error instanceof NetworkError) {
      return new TransientError(
        `inference.sh is not reachable (${this.http.scrub(error.message)})`,
        undefined,
        {
          cause: error,
        },
      );
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}

type JsonSchema = {
  type?: unknown;
  required?: unknown;
  properties?: Record<string, JsonSchema>;
  enum?: unknown[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
};

function schemaOf(app: unknown): JsonSchema | undefined {
  if (!app || typeof app !== 'object') return undefined;
  const version = (app as { version?: unknown }).version;
  let schema: unknown =
    version && typeof version === 'object' ? (version as { input_schema?: unknown }).input_schema : undefined;
  schema ??= (app as { input_schema?: unknown }).input_schema;
  if (typeof schema === 'string') {
    try {
      schema = JSON.parse(schema);
    } catch {
      return undefined;
    }
  }
  return schema && typeof schema === 'object' ? (schema as JsonSchema) : undefined;
}

function enumOf(schema: JsonSchema | undefined): unknown[] | undefined {
  if (!schema) return undefined;
  if (Array.isArray(schema.enum)) return schema.enum;
  for (const branch of [...(schema.oneOf ?? []), ...(schema.anyOf ?? []), ...(schema.allOf ?? [])]) {
    const values = enumOf(branch);
    if (values) return values;
  }
  return undefined;
}

/** The schema check behind checkApp(), separate so it can be tested on any app object. */
export function compareAppSchema(
  profile: ModelProfile,
  app: unknown,
  appRef: string = profile.app,
): string[] {
  const schema = schemaOf(app);
  if (!schema)
    return [`app ${appRef} publishes no input schema; cannot check it against the ${profile.label} adapter`];
  const problems: string[] = [];
  const properties = schema.properties ?? {};
  const required = Array.isArray(schema.required)
    ? schema.required.filter((r): r is string => typeof r === 'string')
    : [];
  for (const field of required) {
    if (!profile.requiredFields.includes(field)) {
      problems.push(
        `app ${appRef} requires the input field "${field}", which the ${profile.label} adapter does not fill`,
      );
    }
  }
  const known = Object.keys(properties);
  if (known.length > 0) {
    for (const field of profile.requiredFields) {
      if (!known.includes(field))
        problems.push(`app ${appRef} has no input field "${field}" that the ${profile.label} adapter sends`);
    }
  }
  // Every value the adapter may send for a choice setting, mapped through the profile itself.
  const probe: GenerationRequest = {
    prompt: 'probe',
    model: profile.id,
    seed: 1,
    input_image: {
      key: 'probe',
      contentType: 'image/png',
      bytes: 1,
      width: 1,
      height: 1,
      filename: 'probe.png',
    },
  };
  const seen = new Set<string>();
  for (const info of FIELD_INFO) {
    const mapping = profile.fields[info.name as keyof typeof profile.fields];
    if (!mapping || info.name === 'prompt') continue;
    const values: unknown[] =
      info.kind === 'choice' && info.choices ? [...info.choices] : [info.defaultValue ?? 1];
    for (const value of values) {
      const mapped = mapping({ ...probe, [info.name]: value } as GenerationRequest);
      for (const [field, sent] of Object.entries(mapped)) {
        if (known.length > 0 && !known.includes(field)) {
          const message = `app ${appRef} has no input field "${field}" (the ${profile.label} adapter maps ${info.name} to it)`;
          if (!seen.has(message)) problems.push(message);
          seen.add(message);
          continue;
        }
        const allowed = enumOf(properties[field]);
        if (info.kind === 'choice' && allowed && !allowed.includes(sent)) {
          const message = `app ${appRef} does not accept ${field}=${JSON.stringify(sent)} (allowed: ${allowed.map((v) => JSON.stringify(v)).join(', ')})`;
          if (!seen.has(message)) problems.push(message);
          seen.add(message);
        }
      }
    }
  }
  return problems;
}
