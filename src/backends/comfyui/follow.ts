import { CancelledError, TransientError } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import type { BackendEvent, BackendProgress } from '../backend.js';
import { percentFromElapsed } from '../durations.js';
import { ComfyUnreachableError, describe, executionError, isRetryableHttp } from './errors.js';
import type { HistoryItem } from './http-client.js';
import type { NodeProgress } from './node-progress.js';
import type { ComfySettings } from './options.js';
import { readOutcome } from './outcome.js';
import { encodeLocation } from './output-location.js';
import { contentTypeOf } from './outputs.js';
import type { PromptState } from './prompt-state.js';
import type { SocketEvent } from './socket.js';

/**
 * Follows one prompt to its end (shared/specs/comfyui-api.md §6–§8). The socket's events drive the
 * progress; queue and history are the truth, asked at once when the socket says something ended or
 * reconnected, when the prompt's events stop for `silentCheckMs`, and otherwise on a timer (often
 * while the prompt waits or the server is away, rarely while the events flow). A prompt that
 * vanished from both is resubmitted under its id; a server that stays away too long, or loses the
 * prompt too often, ends the follow.
 */

export type FollowSettings = Pick<
  ComfySettings,
  | 'historyPollMs'
  | 'historyPollDownMs'
  | 'queuePollMs'
  | 'confirmPollMs'
  | 'serverDownTimeoutMs'
  | 'maxResubmits'
  | 'silentCheckMs'
  | 'socketIdleMs'
  | 'decodeAllowanceMs'
>;

/** What the follower needs of the server's socket: whether it is up, and a way out of a silent one. */
export interface SocketHealth {
  readonly connected: boolean;
  readonly lastMessageAt: number;
  reconnect(reason: string): void;
}

/** The backend's side of one follow: the calls to the server and the bookkeeping around them. */
export interface FollowContext {
  readonly settings: FollowSettings;
  /** Where the prompt is now. */
  locate(signal: AbortSignal): Promise<PromptState>;
  /** Uploads the images and posts the prompt again under its id; false when the server did not confirm. */
  resubmit(signal: AbortSignal): Promise<boolean>;
  /** Whether this process cancelled the prompt: then its disappearance is no loss. */
  wasCancelled(): boolean;
  /** Keeps a finished render's duration for later ETAs; never throws. */
  recordDuration(ms: number): Promise<void>;
}

export interface FollowedPrompt {
  promptId: string;
  server: { url: string; host: string; socket: SocketHealth };
  /** The prompt's mailbox; closed when the follow ends. */
  events: { next(timeoutMs: number, signal: AbortSignal): Promise<SocketEvent | undefined>; close(): void };
  progress: NodeProgress;
  /** Past run time of this shape, when known: the ETA before sampler steps arrive. */
  expectedMs: number | undefined;
  log: Logger;
}

export class PromptFollower {
  private phase: 'submitted' | 'running' = 'submitted';
  private position: number | undefined;
  private runStartedAt: number | undefined;
  /** The socket said the prompt ended; history must confirm (and may lag the event). */
  private finishing = false;
  private errorEvent: Record<string, unknown> | undefined;
  private downSince: number | undefined;
  private resubmits = 0;
  private lastCheck = 0;
  private nextCheck = 0;
  /** When the socket last said anything about this prompt (or reconnected). */
  private lastHeardAt = Date.now();
  private lastEmitted = '';
  /** Whether this process gets the prompt's events; a re-attached job from another process does not. */
  private sawEvents = false;
  private shownPercent = 0;

  constructor(
    private readonly context: FollowContext,
    private readonly prompt: FollowedPrompt,
  ) {}

  /** Progress whenever what the user would see changes, then one `completed`; throws how it failed. */
  async *run(signal: AbortSignal): AsyncGenerator<BackendEvent> {
    try {
      while (true) {
        signal.throwIfAborted();
        if (Date.now() >= Math.min(this.nextCheck, this.silentCheckAt())) {
          const ended = await this.check(signal);
          if (ended) {
            yield* this.finish(ended);
            return;
          }
        }
        const update = this.report();
        // Not a second copy of the WorkerProgressWriter's de-duplication: the ETA is left out on
        // purpose. While the prompt waits, report() recomputes the ETA from the clock at every wake-up
        // (a socket message, a poll); counting that as a change would have the worker write a new ETA
        // up to once a second, and the one shown would drift instead of counting down.
        const key = JSON.stringify([
          update.phase,
          update.percent,
          update.detail,
          update.backendQueuePosition,
        ]);
        if (key !== this.lastEmitted) {
          this.lastEmitted = key;
          yield { type: 'progress', progress: update };
        }
        this.reconnectIfSilent();
        const wakeAt = Math.min(this.nextCheck, this.silentCheckAt(), this.socketIdleAt());
        const event = await this.prompt.events.next(Math.max(0, wakeAt - Date.now()), signal);
        if (event) this.apply(event);
      }
    } finally {
      this.prompt.events.close();
    }
  }

  /** Asks the server where the prompt is and acts on it; returns its history entry once it ended. */
  private async check(signal: AbortSignal): Promise<HistoryItem | undefined> {
    const where = await this.context.locate(signal);
    this.lastCheck = Date.now();
    if (where.kind !== 'down') this.downSince = undefined;
    switch (where.kind) {
      case 'done':
        return where.item;
      case 'running':
        if (this.phase !== 'running') this.runStartedAt ??= this.lastCheck;
        this.phase = 'running';
        this.position = undefined;
        break;
      case 'pending':
        this.position = where.position;
        break;
      case 'absent':
        await this.recoverLost(signal);
        break;
      case 'down': {
        const timeoutMs = this.context.settings.serverDownTimeoutMs;
        this.downSince ??= this.lastCheck;
        if (this.lastCheck - this.downSince > timeoutMs) {
          throw new TransientError(
            `the GPU server ${this.prompt.server.host} has not answered for ${Math.round(timeoutMs / 1000)} s (${describe(where.error)})`,
          );
        }
        break;
      }
    }
    this.nextCheck = Date.now() + this.interval();
    return undefined;
  }

  /**
   * Only a cancel this process asked for ends the job here. Anything else is a LOST prompt: a server
   * restart empties queue and history, and after a GPU host crash the socket can still look connected
   * (half-open), so "the connection stayed up" proves nothing.
   */
  private async recoverLost(signal: AbortSignal) {
    const { log } = this.prompt;
    if (this.context.wasCancelled()) throw new CancelledError();
    if (this.errorEvent) throw executionError(this.errorEvent, log);
    if (this.resubmits >= this.context.settings.maxResubmits) {
      throw new TransientError(`the GPU server lost the job ${this.resubmits} times; giving up for now`);
    }
    this.resubmits += 1;
    log.warn(
      { resubmits: this.resubmits },
      'prompt is in neither queue nor history (server restart?); resubmitting it',
    );
    try {
      const confirmed = await this.context.resubmit(signal);
      if (!confirmed) this.downSince = Date.now();
    } catch (error) {
      signal.throwIfAborted();
      if (!(error instanceof ComfyUnreachableError) && !isRetryableHttp(error)) throw error;
      this.downSince = Date.now();
    }
    this.prompt.progress.restart();
    this.phase = 'submitted';
    this.position = undefined;
    this.runStartedAt = undefined;
    this.finishing = false;
  }

  /** How long until queue and history are asked again. */
  private interval(): number {
    const s = this.context.settings;
    if (this.finishing) return s.confirmPollMs;
    if (this.downSince !== undefined || !this.prompt.server.socket.connected) return s.historyPollDownMs;
    if (this.phase === 'submitted') return Math.min(s.queuePollMs, s.historyPollMs);
    return s.historyPollMs;
  }

  /** When the prompt's silence calls for a look at queue and history (see silentCheckMs), or never. */
  private silentCheckAt(): number {
    const silentMs = this.context.settings.silentCheckMs;
    return silentMs > 0 ? Math.max(this.lastHeardAt, this.lastCheck) + silentMs : Number.POSITIVE_INFINITY;
  }

  /** When a silent socket is due for a reconnect (see socketIdleMs), or never. */
  private socketIdleAt(): number {
    const idleMs = this.context.settings.socketIdleMs;
    const socket = this.prompt.server.socket;
    return this.phase === 'running' && idleMs > 0 && socket.connected
      ? socket.lastMessageAt + idleMs
      : Number.POSITIVE_INFINITY;
  }

  private reconnectIfSilent() {
    if (Date.now() < this.socketIdleAt()) return;
    const socket = this.prompt.server.socket;
    this.prompt.log.warn(
      { silentMs: Date.now() - socket.lastMessageAt },
      'no message on the ComfyUI socket while the prompt runs; it may be half-open',
    );
    socket.reconnect('silent while a prompt runs');
  }

  private apply(event: SocketEvent) {
    if (event.kind === 'open') {
      this.lastHeardAt = Date.now();
      // Events were lost while the socket was down: look at queue and history now.
      this.nextCheck = 0;
      return;
    }
    if (event.kind === 'close') {
      this.nextCheck = Math.min(this.nextCheck, Date.now() + this.context.settings.historyPollDownMs);
      return;
    }
    const { type, data } = event.message;
    if (type === 'status') {
      // The queue moved: refresh the position, at most once per queuePollMs.
      if (this.phase === 'submitted') {
        this.nextCheck = Math.min(this.nextCheck, this.lastCheck + this.context.settings.queuePollMs);
      }
      return;
    }
    if (data.prompt_id !== this.prompt.promptId) return;
    this.sawEvents = true;
    this.lastHeardAt = Date.now();
    const progress = this.prompt.progress;
    switch (type) {
      case 'execution_start':
        this.phase = 'running';
        this.position = undefined;
        this.finishing = false;
        // Local time: the server's clock may differ from ours.
        this.runStartedAt = Date.now();
        break;
      case 'execution_cached':
        if (Array.isArray(data.nodes)) progress.cached(data.nodes.map(String));
        this.phase = 'running';
        break;
      case 'executing':
        if (data.node === null || data.node === undefined) {
          this.finishing = true;
          this.nextCheck = 0;
        } else {
          this.phase = 'running';
          progress.executing(String(data.node));
        }
        break;
      case 'progress': {
        const value = Number(data.value);
        const max = Number(data.max);
        if (Number.isFinite(value) && Number.isFinite(max)) {
          this.phase = 'running';
          progress.progress(typeof data.node === 'string' ? data.node : undefined, value, max, Date.now());
        }
        break;
      }
      case 'progress_state': {
        const nodes =
          data.nodes && typeof data.nodes === 'object' ? (data.nodes as Record<string, unknown>) : {};
        for (const [id, state] of Object.entries(nodes)) {
          if ((state as { state?: unknown })?.state === 'finished') progress.finished(id);
        }
        break;
      }
      case 'execution_success':
        this.finishing = true;
        this.nextCheck = 0;
        break;
      case 'execution_error':
        this.errorEvent = data;
        this.finishing = true;
        this.nextCheck = 0;
        break;
      case 'execution_interrupted':
        this.prompt.log.info('ComfyUI interrupted the prompt');
        throw new CancelledError();
    }
  }

  /** What the user sees now: the queue position while waiting, then percent, step and ETA. */
  private report(): BackendProgress {
    const now = Date.now();
    const expected = this.prompt.expectedMs;
    const waiting = this.downSince !== undefined ? 'waiting for the GPU server to come back' : undefined;
    if (this.phase === 'submitted') {
      const position = this.position;
      const etaAt = expected !== undefined && position !== undefined ? now + expected * position : undefined;
      return {
        phase: 'submitted',
        detail:
          waiting ??
          (position !== undefined ? `number ${position} in the GPU queue` : 'queued on the GPU server'),
        ...(position !== undefined ? { backendQueuePosition: position } : {}),
        ...(etaAt !== undefined ? { etaAt } : {}),
      };
    }
    const progress = this.prompt.progress;
    const remaining = progress.remainingMs(this.context.settings.decodeAllowanceMs);
    let etaAt: number | undefined;
    if (remaining !== undefined) etaAt = progress.lastStepTime + remaining;
    else if (
      expected !== undefined &&
      this.runStartedAt !== undefined &&
      this.runStartedAt + expected > now
    ) {
      etaAt = this.runStartedAt + expected;
    }
    let percent = progress.percent();
    if (!this.sawEvents && expected !== undefined && this.runStartedAt !== undefined) {
      // No events for this prompt (another process submitted it): estimate from past run times.
      percent = Math.max(percent, percentFromElapsed(now - this.runStartedAt, expected, 0, 100));
    }
    this.shownPercent = Math.max(this.shownPercent, Math.min(99, percent));
    return {
      phase: 'running',
      percent: this.shownPercent,
      detail: waiting ?? progress.detail() ?? 'starting',
      ...(etaAt !== undefined ? { etaAt } : {}),
    };
  }

  private async *finish(item: HistoryItem): AsyncGenerator<BackendEvent> {
    const { log, promptId, server } = this.prompt;
    const { file, durationMs } = readOutcome(item, log);
    const duration =
      durationMs ?? (this.runStartedAt !== undefined ? Date.now() - this.runStartedAt : undefined);
    if (duration !== undefined && duration > 0) await this.context.recordDuration(duration);
    log.info({ file: file.filename, durationMs: duration }, 'ComfyUI prompt finished');
    // 99, not 100: the video still has to be downloaded and prepared; the worker writes 100 on delivery.
    yield { type: 'progress', progress: { phase: 'running', percent: 99, detail: 'rendered' } };
    yield {
      type: 'completed',
      output: {
        location: encodeLocation({ server: server.url, promptId, ...file }),
        contentType: contentTypeOf(file),
      },
    };
  }
}
