import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Agent } from 'undici';
import { CancelledError, ConfigurationError, TransientError, UserFacingError } from '../../core/errors.js';
import type { RemoteTaskRef } from '../../core/job.js';
import type { GenerationRequest, StoredImage } from '../../core/request.js';
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
  ComfyHttpError,
  type ComfyServerConfig,
  ComfyUnreachableError,
  describe,
  displayHost,
  type HistoryItem,
  OutputTooLargeError,
  type SocketEvent,
} from './client.js';
import { ComfyPool, type ComfyServer, type PreflightReport } from './pool.js';
import { ProgressTracker } from './progress.js';
import {
  buildGraph,
  type ComfyFileRef,
  type ComfyGraph,
  type ComfyModelFiles,
  contentTypeOf,
  DEFAULT_MODEL_FILES,
  DEFAULT_NEGATIVE_PROMPT,
  describeIgnoredSettings,
  type GraphOptions,
  loadTemplate,
  pickVideoOutput,
  runShape,
  type WorkflowTemplate,
} from './workflow.js';

/**
 * The self-hosted backend: a pool of ComfyUI servers running the Wan 2.1 graph
 * (shared/specs/comfyui-api.md). The prompt id is chosen here and stored before `POST /prompt`, so
 * a restarted worker re-attaches and a prompt lost by a server restart is resubmitted under the
 * same id.
 */

export interface ComfyBackendOptions {
  /** The `COMFYUI_URL` list; an entry may carry extra headers for a reverse proxy. */
  servers: readonly (string | ComfyServerConfig)[];
  /** Extra headers sent to every server (per-server headers win). Never logged. */
  headers?: Record<string, string>;
  /** API-format image-to-video workflow with the `${…}` placeholders; default the shipped template. */
  workflowPath?: string;
  /** API-format first-and-last-frame workflow; default the shipped template. */
  flfWorkflowPath?: string;
  /** Weights file names; defaults are the official ComfyUI Wan 2.1 template's. */
  models?: Partial<ComfyModelFiles>;
  /** Used when the request has no negative prompt. */
  defaultNegativePrompt?: string;
  /** Past run times, for the ETA before sampler steps arrive. */
  durations?: DurationHistory;
  /** One per process, never shared (spec §6.1); default `kinema-<host>-<pid>`. */
  clientId?: string;
  /** How often each server is preflighted again (0 = only on demand). */
  preflightIntervalMs?: number;
  /** History safety-net poll while the socket is up. */
  historyPollMs?: number;
  /** History poll while the socket is down, or the server does not answer. */
  historyPollDownMs?: number;
  /** Queue-position refresh while the prompt waits. */
  queuePollMs?: number;
  /** Poll after the socket says the prompt ended, until history confirms it. */
  confirmPollMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Per HTTP call. */
  requestTimeoutMs?: number;
  uploadTimeoutMs?: number;
  /** How long `follow` waits for a server that stopped answering before giving up. */
  serverDownTimeoutMs?: number;
  /** How often a lost prompt (server restart) is resubmitted under the same id. */
  maxResubmits?: number;
  /**
   * While a prompt runs, a socket that received nothing for this long is reconnected: after a GPU
   * host crash it can look connected (half-open) and never deliver another event. 0 turns it off.
   */
  socketIdleMs?: number;
  /** How long `cancel` waits for the server to confirm. */
  cancelTimeoutMs?: number;
  maxOutputBytes?: number;
  downloadTimeoutMs?: number;
  /** Added to the sampler-paced ETA for decoding and encoding. */
  decodeAllowanceMs?: number;
  /** For pool-level messages; jobs log through their own logger. */
  log?: Logger;
}

export const COMFY_DEFAULTS = {
  preflightIntervalMs: 60_000,
  historyPollMs: 30_000,
  historyPollDownMs: 5_000,
  queuePollMs: 3_000,
  confirmPollMs: 250,
  reconnectMinMs: 500,
  reconnectMaxMs: 10_000,
  requestTimeoutMs: 30_000,
  uploadTimeoutMs: 120_000,
  serverDownTimeoutMs: 15 * 60_000,
  maxResubmits: 3,
  socketIdleMs: 120_000,
  cancelTimeoutMs: 15_000,
  maxOutputBytes: 512 * 1024 * 1024,
  downloadTimeoutMs: 10 * 60_000,
  decodeAllowanceMs: 15_000,
} as const;

type Settings = { -readonly [K in keyof typeof COMFY_DEFAULTS]: number };

export const defaultClientId = () => `kinema-${hostname()}-${process.pid}`.replace(/[^\w.-]+/g, '_');

/** Subfolder of the server's input folder for uploaded images (spec §5). */
const INPUT_SUBFOLDER = 'kinema';
const OOM_MESSAGE = 'the GPU ran out of memory, try a lower resolution or fewer frames';
/** Events collected between submit and follow, or while follow is between reads. */
const MAILBOX_LIMIT = 5_000;
/** An unclaimed submit-time watch is dropped after this long. */
const WATCH_TTL_MS = 10 * 60_000;

interface Location extends ComfyFileRef {
  server: string;
  promptId?: string;
}

class Mailbox<T> {
  private items: T[] = [];
  private wake: (() => void) | undefined;

  push(item: T) {
    this.items.push(item);
    if (this.items.length > MAILBOX_LIMIT) this.items.shift();
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The next item, or undefined after `timeoutMs`. Throws when the signal aborts. */
  async next(timeoutMs: number, signal: AbortSignal): Promise<T | undefined> {
    signal.throwIfAborted();
    if (this.items.length > 0) return this.items.shift();
    if (timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          if (this.wake === done) this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    signal.throwIfAborted();
    return this.items.shift();
  }
}

interface Watch {
  box: Mailbox<SocketEvent>;
  close: () => void;
}

type Where =
  | { kind: 'running' }
  | { kind: 'pending'; position: number }
  | { kind: 'done'; item: HistoryItem }
  | { kind: 'absent' }
  | { kind: 'down'; error: unknown };

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

const EXTENSIONS: Record<StoredImage['contentType'], string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

export class ComfyBackend implements VideoBackend {
  readonly name = 'comfyui';
  readonly clientId: string;
  private readonly pool: ComfyPool;
  private readonly templates: { i2v: WorkflowTemplate; flf: WorkflowTemplate };
  private readonly graphOptions: GraphOptions;
  private readonly settings: Settings;
  private readonly durations: DurationHistory | undefined;
  private readonly agent: Agent;
  private readonly log: Logger;
  private readonly watches = new Map<string, Watch>();
  /** Prompts this process cancelled, so `follow` never mistakes a removed prompt for a lost one. */
  private readonly cancelled = new Map<string, number>();
  private started = false;
  private closed = false;

  constructor(options: ComfyBackendOptions) {
    this.settings = { ...COMFY_DEFAULTS };
    for (const key of Object.keys(COMFY_DEFAULTS) as (keyof Settings)[]) {
      const value = options[key];
      if (value !== undefined) {
        if (!Number.isFinite(value) || value < 0)
          throw new ConfigurationError(`ComfyUI option ${key} must be >= 0`);
        this.settings[key] = value;
      }
    }
    this.log = options.log ?? createLogger(undefined, 'comfyui');
    this.durations = options.durations;
    this.clientId = options.clientId ?? defaultClientId();
    const models: ComfyModelFiles = { ...DEFAULT_MODEL_FILES, ...stripUndefined(options.models ?? {}) };
    this.graphOptions = {
      models,
      negativePrompt: options.defaultNegativePrompt ?? DEFAULT_NEGATIVE_PROMPT,
    };
    this.templates = {
      i2v: loadTemplate(options.workflowPath, 'i2v'),
      flf: loadTemplate(options.flfWorkflowPath, 'flf'),
    };
    this.agent = new Agent({ keepAliveTimeout: 4_000, connections: 32 });
    const servers = options.servers.map((entry) => {
      const config = typeof entry === 'string' ? { url: entry } : entry;
      return withCredentialsAsHeader({
        url: config.url,
        headers: { ...(options.headers ?? {}), ...(config.headers ?? {}) },
      });
    });
    this.pool = new ComfyPool({
      servers,
      clientId: this.clientId,
      models,
      templates: this.templates,
      preflightIntervalMs: this.settings.preflightIntervalMs,
      requestTimeoutMs: this.settings.requestTimeoutMs,
      reconnectMinMs: this.settings.reconnectMinMs,
      reconnectMaxMs: this.settings.reconnectMaxMs,
      log: this.log,
      dispatcher: this.agent,
    });
  }

  /** Opens one socket per server and starts the periodic preflight. Called on first use. */
  start() {
    if (this.started || this.closed) return;
    this.started = true;
    this.pool.start();
  }

  describeIgnored(request: GenerationRequest): string[] {
    return describeIgnoredSettings(request, request.end_frame ? this.templates.flf : this.templates.i2v);
  }

  /** Runs the start-up checks (spec §2) on every server now and returns one report each. */
  async preflight(): Promise<PreflightReport[]> {
    this.start();
    return this.pool.preflight();
  }

  async health(): Promise<{ ok: boolean; message?: string }> {
    this.start();
    return this.pool.health(5_000);
  }

  async submit(job: BackendJob, hooks: SubmitHooks, signal: AbortSignal): Promise<RemoteTaskRef> {
    this.start();
    const server = await this.pool.pick(signal);
    server.inflight += 1;
    const promptId = randomUUID();
    const log = job.log.child({ backend: this.name, server: server.host, promptId });
    let watch: Watch | undefined;
    try {
      hooks.progress({ phase: 'uploading', detail: 'sending the image to the GPU server' });
      // Events go only to a connected socket; give a fresh process a moment to connect.
      await server.socket.waitOpen(Math.min(2_000, this.settings.requestTimeoutMs), signal);
      const graph = await this.prepareGraph(server, job, promptId, signal);
      const ref: RemoteTaskRef = {
        backend: this.name,
        state: 'submitting',
        taskId: promptId,
        server: server.url,
        submittedAt: Date.now(),
      };
      watch = this.watch(server, promptId);
      await hooks.persist(ref);
      const confirmed = await this.post(server, graph, promptId, log, signal);
      if (!confirmed) {
        // The stored id lets follow() find the prompt or resubmit it once the server answers.
        log.warn('the GPU server did not confirm the prompt; follow() will check and resubmit if needed');
        return ref;
      }
      const submitted: RemoteTaskRef = { ...ref, state: 'submitted' };
      await hooks.persist(submitted);
      log.info('prompt queued on ComfyUI');
      return submitted;
    } catch (error) {
      if (watch) this.dropWatch(promptId);
      throw this.mapSubmitError(error, server, signal);
    } finally {
      server.inflight -= 1;
    }
  }

  private mapSubmitError(error: unknown, server: ComfyServer, signal: AbortSignal): unknown {
    if (signal.aborted) return signal.reason ?? error;
    if (error instanceof ComfyUnreachableError) {
      this.pool.markDown(server, error);
      return new TransientError(`the GPU server does not answer (${error.message})`, undefined, {
        cause: error,
      });
    }
    if (
      error instanceof ComfyHttpError &&
      (error.status >= 500 || error.status === 429 || error.status === 408)
    ) {
      return new TransientError(`the GPU server answered ${error.status}`, undefined, { cause: error });
    }
    return error;
  }

  private async readImage(job: BackendJob, image: StoredImage, name: string) {
    const bytes = await job.inputs.read(image);
    return {
      bytes,
      filename: `${name}.${EXTENSIONS[image.contentType] ?? 'png'}`,
      contentType: image.contentType,
    };
  }

  private async upload(
    server: ComfyServer,
    file: { bytes: Buffer; filename: string; contentType: string },
    signal: AbortSignal,
  ) {
    try {
      const uploaded = await server.client.uploadImage(
        file,
        INPUT_SUBFOLDER,
        signal,
        this.settings.uploadTimeoutMs,
      );
      return uploaded.subfolder ? `${uploaded.subfolder}/${uploaded.name}` : uploaded.name;
    } catch (error) {
      if (error instanceof ComfyHttpError && error.status === 413) {
        throw new UserFacingError('the image is too large for the GPU server', { cause: error });
      }
      if (
        error instanceof ComfyHttpError &&
        error.status < 500 &&
        error.status !== 429 &&
        error.status !== 408
      ) {
        throw new ConfigurationError(
          `the GPU server refused the image upload (HTTP ${error.status}: ${summarise(error.body)})`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** Uploads the job's images and fills the workflow (again on a resubmit: the server may be new). */
  private async prepareGraph(server: ComfyServer, job: BackendJob, promptId: string, signal: AbortSignal) {
    const request = job.request;
    const start = await this.readImage(job, request.input_image, `${promptId}_start`);
    const startImagePath = await this.upload(server, start, signal);
    let endImagePath: string | undefined;
    if (request.end_frame) {
      const end = await this.readImage(job, request.end_frame, `${promptId}_end`);
      endImagePath = await this.upload(server, end, signal);
    }
    return buildGraph(
      request.end_frame ? this.templates.flf : this.templates.i2v,
      request,
      this.graphOptions,
      {
        startImagePath,
        ...(endImagePath ? { endImagePath } : {}),
        jobId: job.jobId,
        promptId,
      },
    );
  }

  /**
   * `POST /prompt`. True when the server holds the prompt; false when that could not be learned
   * (no answer). An ambiguous failure is checked in queue and history before one more try, since
   * the server does not de-duplicate (spec §3, §8). Validation errors are never retried.
   */
  private async post(
    server: ComfyServer,
    graph: ComfyGraph,
    promptId: string,
    log: Logger,
    signal: AbortSignal,
  ): Promise<boolean> {
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      try {
        const accepted = await server.client.submitPrompt(graph, promptId, this.clientId, signal);
        if (accepted?.node_errors && Object.keys(accepted.node_errors).length > 0) {
          log.warn({ nodeErrors: accepted.node_errors }, 'ComfyUI accepted the prompt with node errors');
        }
        return true;
      } catch (error) {
        signal.throwIfAborted();
        if (error instanceof ComfyHttpError && error.status === 400)
          throw this.validationError(error, server, log);
        if (
          error instanceof ComfyHttpError &&
          error.status < 500 &&
          error.status !== 408 &&
          error.status !== 429
        ) {
          throw new ConfigurationError(
            `the GPU server refused the job (HTTP ${error.status}: ${summarise(error.body)}); check COMFYUI_URL and its proxy headers`,
            { cause: error },
          );
        }
        log.warn({ err: error, attempt }, 'POST /prompt failed; checking whether the server has the prompt');
        const where = await this.locate(server, promptId, signal);
        if (where.kind === 'pending' || where.kind === 'running' || where.kind === 'done') return true;
        if (where.kind === 'down') return false;
      }
    }
    return false;
  }

  private validationError(error: ComfyHttpError, server: ComfyServer, log: Logger): ConfigurationError {
    const body = (error.body && typeof error.body === 'object' ? error.body : {}) as Record<string, unknown>;
    const top = (body.error && typeof body.error === 'object' ? body.error : {}) as Record<string, unknown>;
    const nodeErrors = (
      body.node_errors && typeof body.node_errors === 'object' ? body.node_errors : {}
    ) as Record<
      string,
      { class_type?: string; errors?: { type?: string; message?: string; details?: string }[] }
    >;
    log.error({ server: server.host, error: top, nodeErrors }, 'ComfyUI refused the workflow');
    const missing = new Set<string>();
    const lines: string[] = [];
    for (const [id, node] of Object.entries(nodeErrors)) {
      for (const entry of node?.errors ?? []) {
        if (entry.type === 'value_not_in_list' && /Loader/.test(node.class_type ?? '')) {
          missing.add(/'([^']+)' not in/.exec(entry.details ?? '')?.[1] ?? entry.details ?? 'unknown');
        }
        lines.push(
          `${node.class_type ?? 'node'} ${id}: ${entry.message ?? entry.type ?? 'invalid'}${entry.details ? ` (${entry.details})` : ''}`,
        );
      }
    }
    if (missing.size > 0) {
      return new ConfigurationError(
        `the GPU worker is missing model file${missing.size > 1 ? 's' : ''} ${[...missing].join(', ')}`,
        { cause: error },
      );
    }
    const head = typeof top.message === 'string' ? top.message : 'the workflow is invalid';
    const details = lines.length > 0 ? lines.join('; ') : typeof top.details === 'string' ? top.details : '';
    return new ConfigurationError(
      `the GPU worker rejected the workflow: ${head}${details ? `: ${details}` : ''}`,
      {
        cause: error,
      },
    );
  }

  /** Where the prompt is: queue first, then history, so a prompt finishing in between is not missed. */
  private async locate(server: ComfyServer, promptId: string, signal?: AbortSignal): Promise<Where> {
    try {
      const queue = await server.client.queue(signal);
      if (queue.running.some((item) => item[1] === promptId)) return { kind: 'running' };
      const mine = queue.pending.find((item) => item[1] === promptId);
      if (mine) {
        const ahead = queue.pending.filter(
          (item) => item !== mine && Number(item[0]) < Number(mine[0]),
        ).length;
        return { kind: 'pending', position: 1 + ahead + queue.running.length };
      }
      const item = await server.client.history(promptId, signal);
      return item ? { kind: 'done', item } : { kind: 'absent' };
    } catch (error) {
      signal?.throwIfAborted();
      return { kind: 'down', error };
    }
  }

  private watch(server: ComfyServer, promptId: string): Watch {
    const existing = this.watches.get(promptId);
    if (existing) return existing;
    const box = new Mailbox<SocketEvent>();
    const unsubscribe = server.socket.subscribe((event) => {
      if (event.kind !== 'message') return box.push(event);
      const { type, data } = event.message;
      if (type === 'status' || data.prompt_id === promptId) box.push(event);
    });
    const timer = setTimeout(() => this.dropWatch(promptId), WATCH_TTL_MS);
    timer.unref();
    const watch: Watch = {
      box,
      close: () => {
        clearTimeout(timer);
        unsubscribe();
      },
    };
    this.watches.set(promptId, watch);
    return watch;
  }

  private dropWatch(promptId: string) {
    this.watches.get(promptId)?.close();
    this.watches.delete(promptId);
  }

  /** The events collected since submit, or a fresh subscription for a re-attached job. */
  private claimWatch(server: ComfyServer, promptId: string): Watch {
    const watch = this.watch(server, promptId);
    this.watches.delete(promptId);
    return watch;
  }

  private async expectedMs(key: string): Promise<number | undefined> {
    if (!this.durations) return undefined;
    try {
      const { ms } = await this.durations.estimate(key, 0);
      return ms > 0 ? ms : undefined;
    } catch {
      return undefined;
    }
  }

  async *follow(ref: RemoteTaskRef, job: BackendJob, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    this.start();
    const promptId = ref.taskId;
    if (!promptId) throw new ConfigurationError('the stored ComfyUI job has no prompt id');
    const server = this.pool.get(ref.server);
    if (!server) {
      throw new ConfigurationError(
        `the job ran on ComfyUI server ${displayHost(ref.server ?? 'unknown')}, which is no longer configured`,
      );
    }
    const log = job.log.child({ backend: this.name, server: server.host, promptId });
    const shape = runShape(job.request);
    const template = shape.flf ? this.templates.flf : this.templates.i2v;
    const tracker = new ProgressTracker(
      buildGraph(template, job.request, this.graphOptions, {
        startImagePath: `${INPUT_SUBFOLDER}/start.png`,
        ...(shape.flf ? { endImagePath: `${INPUT_SUBFOLDER}/end.png` } : {}),
        jobId: job.jobId,
        promptId,
      }),
    );
    const durationKey = `comfyui:${shape.flf ? 'flf2v' : 'i2v'}:${shape.resolution}:${shape.length}f:${shape.steps}s`;
    const expected = await this.expectedMs(durationKey);
    const watch = this.claimWatch(server, promptId);
    const s = this.settings;

    let phase: 'submitted' | 'running' = 'submitted';
    let position: number | undefined;
    let runStartedAt: number | undefined;
    /** The socket said the prompt ended; history must confirm (and may lag the event). */
    let finishing = false;
    let errorEvent: Record<string, unknown> | undefined;
    let downSince: number | undefined;
    let resubmits = 0;
    let lastCheck = 0;
    let nextCheck = 0;
    let lastEmitted = '';
    /** Whether this process gets the prompt's events; a re-attached job from another process does not. */
    let sawEvents = false;
    let shownPercent = 0;

    /** When a silent socket is due for a reconnect (see socketIdleMs), or never. */
    const socketIdleAt = () =>
      phase === 'running' && s.socketIdleMs > 0 && server.socket.connected
        ? server.socket.lastMessageAt + s.socketIdleMs
        : Number.POSITIVE_INFINITY;

    const interval = () => {
      if (finishing) return s.confirmPollMs;
      if (downSince !== undefined || !server.socket.connected) return s.historyPollDownMs;
      if (phase === 'submitted') return Math.min(s.queuePollMs, s.historyPollMs);
      return s.historyPollMs;
    };

    const progress = (): BackendProgress => {
      const now = Date.now();
      const waiting = downSince !== undefined ? 'waiting for the GPU server to come back' : undefined;
      if (phase === 'submitted') {
        const etaAt =
          expected !== undefined && position !== undefined ? now + expected * position : undefined;
        return {
          phase: 'submitted',
          detail:
            waiting ??
            (position !== undefined ? `number ${position} in the GPU queue` : 'queued on the GPU server'),
          ...(position !== undefined ? { backendQueuePosition: position } : {}),
          ...(etaAt !== undefined ? { etaAt } : {}),
        };
      }
      const remaining = tracker.remainingMs(s.decodeAllowanceMs);
      let etaAt: number | undefined;
      if (remaining !== undefined) etaAt = tracker.lastStepTime + remaining;
      else if (expected !== undefined && runStartedAt !== undefined && runStartedAt + expected > now) {
        etaAt = runStartedAt + expected;
      }
      let percent = tracker.percent();
      if (!sawEvents && expected !== undefined && runStartedAt !== undefined) {
        // No events for this prompt (another process submitted it): estimate from past run times.
        percent = Math.max(percent, percentFromElapsed(now - runStartedAt, expected, 0, 100));
      }
      shownPercent = Math.max(shownPercent, Math.min(99, percent));
      return {
        phase: 'running',
        percent: shownPercent,
        detail: waiting ?? tracker.detail() ?? 'starting',
        ...(etaAt !== undefined ? { etaAt } : {}),
      };
    };

    try {
      while (true) {
        signal.throwIfAborted();
        if (Date.now() >= nextCheck) {
          const where = await this.locate(server, promptId, signal);
          lastCheck = Date.now();
          if (where.kind !== 'down') downSince = undefined;
          switch (where.kind) {
            case 'done':
              yield* this.finish(where.item, server, promptId, { log, tracker, durationKey, runStartedAt });
              return;
            case 'running':
              if (phase !== 'running') runStartedAt ??= lastCheck;
              phase = 'running';
              position = undefined;
              break;
            case 'pending':
              position = where.position;
              break;
            case 'absent': {
              // Only a cancel this process asked for ends the job here. Anything else is a LOST prompt:
              // a server restart empties queue and history, and after a GPU host crash the socket can
              // still look connected (half-open), so "the connection stayed up" proves nothing.
              if (this.cancelled.has(promptId)) throw new CancelledError();
              if (errorEvent) throw this.executionError(errorEvent, log);
              if (resubmits >= s.maxResubmits) {
                throw new TransientError(`the GPU server lost the job ${resubmits} times; giving up for now`);
              }
              resubmits += 1;
              log.warn(
                { resubmits },
                'prompt is in neither queue nor history (server restart?); resubmitting it',
              );
              try {
                const graph = await this.prepareGraph(server, job, promptId, signal);
                const confirmed = await this.post(server, graph, promptId, log, signal);
                if (!confirmed) downSince = Date.now();
              } catch (error) {
                signal.throwIfAborted();
                if (!(error instanceof ComfyUnreachableError) && !isRetryableHttp(error)) throw error;
                downSince = Date.now();
              }
              tracker.restart();
              phase = 'submitted';
              position = undefined;
              runStartedAt = undefined;
              finishing = false;
              break;
            }
            case 'down': {
              downSince ??= lastCheck;
              if (lastCheck - downSince > s.serverDownTimeoutMs) {
                throw new TransientError(
                  `the GPU server ${server.host} has not answered for ${Math.round(s.serverDownTimeoutMs / 1000)} s (${describe(where.error)})`,
                );
              }
              break;
            }
          }
          nextCheck = Date.now() + interval();
        }

        const update = progress();
        const key = JSON.stringify([
          update.phase,
          update.percent,
          update.detail,
          update.backendQueuePosition,
        ]);
        if (key !== lastEmitted) {
          lastEmitted = key;
          yield { type: 'progress', progress: update };
        }

        if (Date.now() >= socketIdleAt()) {
          log.warn(
            { silentMs: Date.now() - server.socket.lastMessageAt },
            'no message on the ComfyUI socket while the prompt runs; it may be half-open',
          );
          server.socket.reconnect('silent while a prompt runs');
        }
        const wakeAt = Math.min(nextCheck, socketIdleAt());
        const event = await watch.box.next(Math.max(0, wakeAt - Date.now()), signal);
        if (!event) continue;
        if (event.kind === 'open') {
          // Events were lost while the socket was down: look at queue and history now.
          nextCheck = 0;
          continue;
        }
        if (event.kind === 'close') {
          nextCheck = Math.min(nextCheck, Date.now() + s.historyPollDownMs);
          continue;
        }
        const { type, data } = event.message;
        if (type === 'status') {
          // The queue moved: refresh the position, at most once per queuePollMs.
          if (phase === 'submitted') nextCheck = Math.min(nextCheck, lastCheck + s.queuePollMs);
          continue;
        }
        if (data.prompt_id !== promptId) continue;
        sawEvents = true;
        switch (type) {
          case 'execution_start':
            phase = 'running';
            position = undefined;
            finishing = false;
            // Local time: the server's clock may differ from ours.
            runStartedAt = Date.now();
            break;
          case 'execution_cached':
            if (Array.isArray(data.nodes)) tracker.cached(data.nodes.map(String));
            phase = 'running';
            break;
          case 'executing':
            if (data.node === null || data.node === undefined) {
              finishing = true;
              nextCheck = 0;
            } else {
              phase = 'running';
              tracker.executing(String(data.node));
            }
            break;
          case 'progress': {
            const value = Number(data.value);
            const max = Number(data.max);
            if (Number.isFinite(value) && Number.isFinite(max)) {
              phase = 'running';
              tracker.progress(typeof data.node === 'string' ? data.node : undefined, value, max, Date.now());
            }
            break;
          }
          case 'progress_state': {
            const nodes =
              data.nodes && typeof data.nodes === 'object' ? (data.nodes as Record<string, unknown>) : {};
            for (const [id, state] of Object.entries(nodes)) {
              if ((state as { state?: unknown })?.state === 'finished') tracker.finished(id);
            }
            break;
          }
          case 'execution_success':
            finishing = true;
            nextCheck = 0;
            break;
          case 'execution_error':
            errorEvent = data;
            finishing = true;
            nextCheck = 0;
            break;
          case 'execution_interrupted':
            log.info('ComfyUI interrupted the prompt');
            throw new CancelledError();
        }
      }
    } finally {
      watch.close();
    }
  }

  private async *finish(
    item: HistoryItem,
    server: ComfyServer,
    promptId: string,
    context: { log: Logger; tracker: ProgressTracker; durationKey: string; runStartedAt: number | undefined },
  ): AsyncGenerator<BackendEvent> {
    const status = item.status ?? {};
    const messages = Array.isArray(status.messages) ? status.messages : [];
    const message = (type: string) =>
      messages.findLast((entry) => Array.isArray(entry) && entry[0] === type)?.[1];
    const succeeded =
      status.status_str === 'success' || (status.completed === true && status.status_str !== 'error');
    if (!succeeded) {
      const lastEnd = messages.findLast(
        (entry) =>
          Array.isArray(entry) && (entry[0] === 'execution_error' || entry[0] === 'execution_interrupted'),
      );
      if (lastEnd?.[0] === 'execution_interrupted') throw new CancelledError();
      if (lastEnd?.[0] === 'execution_error') throw this.executionError(lastEnd[1] ?? {}, context.log);
      context.log.error({ status }, 'ComfyUI ended the prompt without success and without an error message');
      throw new UserFacingError('the GPU server stopped the job without a result');
    }
    const file = pickVideoOutput(item.outputs);
    if (!file) {
      context.log.error({ outputs: item.outputs }, 'ComfyUI history has no video output');
      throw new ConfigurationError(
        'the ComfyUI workflow finished without a video output; it must end in SaveVideo or another video save node',
      );
    }
    const started = message('execution_start')?.timestamp;
    const ended = message('execution_success')?.timestamp;
    const duration =
      typeof started === 'number' && typeof ended === 'number'
        ? ended - started
        : context.runStartedAt !== undefined
          ? Date.now() - context.runStartedAt
          : undefined;
    if (this.durations && duration !== undefined && duration > 0) {
      await this.durations.record(context.durationKey, duration).catch((error: unknown) => {
        context.log.warn({ err: error }, 'could not record the render time');
      });
    }
    context.log.info({ file: file.filename, durationMs: duration }, 'ComfyUI prompt finished');
    // 99, not 100: the video still has to be downloaded and prepared; the worker writes 100 on delivery.
    yield { type: 'progress', progress: { phase: 'running', percent: 99, detail: 'rendered' } };
    const location: Location = { server: server.url, promptId, ...file };
    yield {
      type: 'completed',
      output: { location: JSON.stringify(location), contentType: contentTypeOf(file) },
    };
  }

  private executionError(data: Record<string, unknown>, log: Logger): UserFacingError {
    const type = typeof data.exception_type === 'string' ? data.exception_type : '';
    const message = typeof data.exception_message === 'string' ? data.exception_message : '';
    log.error(
      {
        exceptionType: type,
        exceptionMessage: message,
        nodeId: data.node_id,
        nodeType: data.node_type,
        traceback: data.traceback,
      },
      'ComfyUI execution error',
    );
    if (/OutOfMemory/i.test(type) || /out of memory/i.test(message)) return new UserFacingError(OOM_MESSAGE);
    const node = typeof data.node_type === 'string' ? ` (in ${data.node_type})` : '';
    return new UserFacingError(`the GPU server failed while rendering the video${node}`);
  }

  async cancel(ref: RemoteTaskRef, log: Logger): Promise<void> {
    const promptId = ref.taskId;
    const server = this.pool.get(ref.server);
    if (!promptId || !server) {
      log.warn(
        { server: ref.server, promptId },
        'nothing to cancel on ComfyUI (no prompt id or unknown server)',
      );
      return;
    }
    this.start();
    const now = Date.now();
    for (const [id, at] of this.cancelled) if (now - at > 3_600_000) this.cancelled.delete(id);
    this.cancelled.set(promptId, now);
    const client = server.client;
    // Both, in this order, each a no-op when it does not apply (spec §8). Interrupt only when GET
    // /queue shows the prompt running: an old server without targeted interrupt ignores the body and
    // would stop whatever runs, maybe another user's job. A server that does not answer GET /queue
    // gets no interrupt either.
    await client
      .deleteQueued([promptId])
      .catch((error: unknown) => log.warn({ err: error }, 'POST /queue delete failed'));
    let where = await this.locate(server, promptId);
    let interruptedAt = 0;
    const deadline = Date.now() + this.settings.cancelTimeoutMs;
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
      await sleep(Math.min(200, this.settings.confirmPollMs * 2));
      where = await this.locate(server, promptId);
    }
    log.warn(
      { promptId, server: server.host, where: where.kind },
      'could not confirm the ComfyUI cancellation in time',
    );
  }

  async download(output: BackendOutput, signal: AbortSignal): Promise<VideoStream> {
    const location = parseLocation(output.location);
    const server = this.pool.get(location.server);
    if (!server) {
      throw new ConfigurationError(
        `the video is on ComfyUI server ${displayHost(location.server)}, which is not configured`,
      );
    }
    try {
      const opened = await server.client.view(location, {
        signal,
        timeoutMs: this.settings.downloadTimeoutMs,
        maxBytes: this.settings.maxOutputBytes,
      });
      return {
        stream: opened.stream,
        ...(opened.bytes !== undefined ? { bytes: opened.bytes } : {}),
        contentType: opened.contentType ?? output.contentType ?? contentTypeOf(location),
      };
    } catch (error) {
      if (signal.aborted || error instanceof OutputTooLargeError) throw error;
      if (error instanceof ComfyHttpError && error.status === 404) {
        throw new UserFacingError('the finished video is no longer on the GPU server', { cause: error });
      }
      if (error instanceof ComfyHttpError && !isRetryableHttp(error)) {
        throw new ConfigurationError(`the GPU server refused the download (HTTP ${error.status})`, {
          cause: error,
        });
      }
      throw new TransientError(
        `could not download the video from the GPU server (${describe(error)})`,
        undefined,
        {
          cause: error,
        },
      );
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.watches.keys()]) this.dropWatch(id);
    this.pool.close();
    await this.agent.destroy().catch(() => undefined);
  }
}

/**
 * `http://user:pass@host` becomes a Basic `Authorization` header and a URL without credentials, so
 * stored job references and log lines never carry the password.
 */
function withCredentialsAsHeader(config: ComfyServerConfig): ComfyServerConfig {
  let url: URL;
  try {
    url = new URL(config.url.trim());
  } catch {
    throw new ConfigurationError(`ComfyUI server "${displayHost(config.url)}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigurationError(`ComfyUI server "${displayHost(config.url)}" is not an http(s) URL`);
  }
  const headers = { ...(config.headers ?? {}) };
  if (url.username || url.password) {
    const hasAuth = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
    if (!hasAuth) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    }
    url.username = '';
    url.password = '';
  }
  const text = url.search || url.hash ? url.toString() : `${url.origin}${url.pathname}`;
  return { url: text, headers };
}

function parseLocation(location: string): Location {
  let parsed: unknown;
  try {
    parsed = JSON.parse(location);
  } catch {
    throw new ConfigurationError('the stored output is not a ComfyUI output location');
  }
  const value = parsed as Record<string, unknown>;
  if (
    !value ||
    typeof value.server !== 'string' ||
    typeof value.filename !== 'string' ||
    typeof value.subfolder !== 'string' ||
    typeof value.type !== 'string'
  ) {
    throw new ConfigurationError('the stored output is not a ComfyUI output location');
  }
  return {
    server: value.server,
    filename: value.filename,
    subfolder: value.subfolder,
    type: value.type,
    ...(typeof value.promptId === 'string' ? { promptId: value.promptId } : {}),
  };
}

const isRetryableHttp = (error: unknown) =>
  error instanceof ComfyHttpError && (error.status >= 500 || error.status === 408 || error.status === 429);

function summarise(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return (text ?? '').slice(0, 300);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
