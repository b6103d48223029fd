import { randomUUID } from 'node:crypto';
import { Agent } from 'undici';
import { ConfigurationError } from '../../core/errors.js';
import type { RemoteTaskRef } from '../../core/job.js';
import type { GenerationRequest } from '../../core/request.js';
import { createLogger, type Logger } from '../../log.js';
import type {
  BackendEvent,
  BackendJob,
  BackendOutput,
  SubmitHooks,
  VideoBackend,
  VideoStream,
} from '../backend.js';
import type { DurationHistory } from '../durations.js';
import { PromptCanceller } from './cancel.js';
import { ComfyUnreachableError, downloadFailure, submitFailure } from './errors.js';
import { type FollowContext, PromptFollower } from './follow.js';
import { buildGraph, durationKeyOf, type GraphOptions, runShape } from './graph.js';
import { describeIgnoredSettings } from './ignored-settings.js';
import { LoraFiles } from './lora-files.js';
import { NodeProgress } from './node-progress.js';
import {
  type ComfyBackendOptions,
  type ComfySettings,
  DEFAULT_NEGATIVE_PROMPT,
  defaultClientId,
  resolveModelFiles,
  resolveServers,
  resolveSettings,
} from './options.js';
import { parseLocation } from './output-location.js';
import { contentTypeOf } from './outputs.js';
import { ComfyPool } from './pool.js';
import type { PreflightReport } from './preflight.js';
import { PromptEvents } from './prompt-events.js';
import { locatePrompt } from './prompt-state.js';
import type { ComfyServer } from './server.js';
import { displayHost } from './server-url.js';
import { INPUT_SUBFOLDER, PromptSubmitter } from './submit.js';
import { loadTemplate, templateFor, type WorkflowTemplates } from './template.js';

/**
 * The self-hosted backend: a pool of ComfyUI servers running the Wan 2.1 graph
 * (shared/specs/comfyui-api.md). The prompt id is chosen here and stored before `POST /prompt`, so
 * a restarted worker re-attaches and a prompt lost by a server restart is resubmitted under the
 * same id. This class wires the collaborators: the pool picks a server, the submitter puts the
 * prompt there, the prompt's mailbox collects its socket events, the follower turns them into
 * progress, and the canceller stops it.
 */
export class ComfyBackend implements VideoBackend {
  readonly name = 'comfyui';
  readonly clientId: string;
  private readonly settings: ComfySettings;
  private readonly templates: WorkflowTemplates;
  private readonly graphOptions: GraphOptions;
  private readonly durations: DurationHistory | undefined;
  private readonly log: Logger;
  private readonly agent: Agent;
  private readonly pool: ComfyPool;
  private readonly submitter: PromptSubmitter;
  private readonly canceller: PromptCanceller;
  private readonly loras: LoraFiles | undefined;
  private readonly events = new PromptEvents();
  private started = false;
  private closed = false;

  constructor(options: ComfyBackendOptions) {
    this.settings = resolveSettings(options);
    this.log = options.log ?? createLogger(undefined, 'comfyui');
    this.durations = options.durations;
    this.clientId = options.clientId ?? defaultClientId();
    const models = resolveModelFiles(options);
    this.graphOptions = {
      models,
      negativePrompt: options.defaultNegativePrompt ?? DEFAULT_NEGATIVE_PROMPT,
    };
    this.templates = {
      i2v: loadTemplate(options.workflowPath, 'i2v'),
      flf: loadTemplate(options.flfWorkflowPath, 'flf'),
    };
    const servers = resolveServers(options);
    this.agent = new Agent({ keepAliveTimeout: 4_000, connections: 32 });
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
    this.loras = options.loras ? new LoraFiles(options.loras) : undefined;
    this.submitter = new PromptSubmitter({
      clientId: this.clientId,
      templates: this.templates,
      graphOptions: this.graphOptions,
      uploadTimeoutMs: this.settings.uploadTimeoutMs,
      ...(this.loras ? { loras: this.loras } : {}),
    });
    this.canceller = new PromptCanceller(this.settings);
  }

  /** Opens one socket per server and starts the periodic preflight. Called on first use. */
  start() {
    if (this.started || this.closed) return;
    this.started = true;
    this.pool.start();
  }

  describeIgnored(request: GenerationRequest): string[] {
    return describeIgnoredSettings(request, templateFor(this.templates, request), this.loras !== undefined);
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
    try {
      hooks.progress({ phase: 'uploading', detail: 'sending the image to the GPU server' });
      // Events go only to a connected socket; give a fresh process a moment to connect.
      await server.socket.waitOpen(Math.min(2_000, this.settings.requestTimeoutMs), signal);
      const graph = await this.submitter.prepare(server, job, promptId, signal);
      const ref: RemoteTaskRef = {
        backend: this.name,
        state: 'submitting',
        taskId: promptId,
        server: server.url,
        submittedAt: Date.now(),
      };
      this.events.open(server.socket, promptId);
      await hooks.persist(ref);
      const confirmed = await this.submitter.post(server, graph, promptId, log, signal);
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
      this.events.drop(promptId);
      throw this.submitError(error, server, signal);
    } finally {
      server.inflight -= 1;
    }
  }

  private submitError(error: unknown, server: ComfyServer, signal: AbortSignal): unknown {
    if (signal.aborted) return signal.reason ?? error;
    if (error instanceof ComfyUnreachableError) this.pool.markDown(server, error);
    return submitFailure(error);
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
    // The graph as the server runs it, for node weights; the file names do not matter here.
    const graph = buildGraph(templateFor(this.templates, job.request), job.request, this.graphOptions, {
      startImagePath: `${INPUT_SUBFOLDER}/start.png`,
      ...(shape.flf ? { endImagePath: `${INPUT_SUBFOLDER}/end.png` } : {}),
      jobId: job.jobId,
      promptId,
    });
    const durationKey = durationKeyOf(shape);
    const expectedMs = await this.expectedMs(durationKey);
    const context: FollowContext = {
      settings: this.settings,
      locate: (signal) => locatePrompt(server.client, promptId, signal),
      resubmit: (signal) => this.submitter.resubmit(server, job, promptId, log, signal),
      wasCancelled: () => this.canceller.wasCancelled(promptId),
      recordDuration: (ms) => this.recordDuration(durationKey, ms, log),
    };
    const follower = new PromptFollower(context, {
      promptId,
      server,
      events: this.events.claim(server.socket, promptId),
      progress: new NodeProgress(graph),
      expectedMs,
      log,
    });
    yield* follower.run(signal);
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

  private async recordDuration(key: string, ms: number, log: Logger): Promise<void> {
    await this.durations?.record(key, ms).catch((error: unknown) => {
      log.warn({ err: error }, 'could not record the render time');
    });
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
    await this.canceller.cancel(server, promptId, log);
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
      if (signal.aborted) throw error;
      throw downloadFailure(error);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.events.close();
    this.pool.close();
    await this.agent.destroy().catch(() => undefined);
    await this.loras?.close();
  }
}
