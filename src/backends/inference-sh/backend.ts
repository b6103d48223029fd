import { Agent, type Dispatcher } from 'undici';
import type { RemoteTaskRef } from '../../core/job.js';
import { type GenerationRequest, MODEL_IDS, type ModelId } from '../../core/request.js';
import { createLogger, type Logger } from '../../log.js';
import type {
  BackendEvent,
  BackendJob,
  BackendOutput,
  SubmitHooks,
  VideoBackend,
  VideoStream,
} from '../backend.js';
import { AppAvailability } from './app-availability.js';
import { type AppCheckContext, checkApp } from './app-schema.js';
import { appName, appPath, describeIgnored, modelForApp } from './apps.js';
import { TaskCanceller } from './cancel.js';
import { ResultDownloader } from './download.js';
import { InferenceApiError } from './envelope.js';
import { ErrorTranslator } from './errors.js';
import { TaskFollower } from './follow.js';
import { InferenceHttp } from './http.js';
import { INFERENCE_DEFAULTS, type InferenceBackendOptions } from './options.js';
import { TaskStarter } from './submit.js';
import { InputUploader } from './upload.js';

export type { InferenceBackendOptions } from './options.js';

/**
 * The inference.sh backend: uploads the stored image, starts the app's task once (never twice: a
 * run is billed and has no idempotency key), follows it by stream or polling, and fetches the mp4.
 * This class only wires the collaborators that do each of those; it holds no state of a job.
 * Specs: shared/specs/inference-sh-api.md and shared/specs/wan-apps.md.
 */
export class InferenceBackend implements VideoBackend {
  readonly name = 'inference';
  private readonly http: InferenceHttp;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  /** INFERENCE_APP, possibly pinned as `@version`. */
  private readonly app: string;
  private readonly log: Logger;
  private readonly errors: ErrorTranslator;
  private readonly starter: TaskStarter;
  private readonly follower: TaskFollower;
  private readonly canceller: TaskCanceller;
  private readonly downloader: ResultDownloader;
  private readonly availability: AppAvailability;

  constructor(options: InferenceBackendOptions) {
    const timeouts = { ...INFERENCE_DEFAULTS.timeouts, ...options.timeouts };
    const userAgent = options.userAgent ?? INFERENCE_DEFAULTS.userAgent;
    this.app = options.app ?? INFERENCE_DEFAULTS.app;
    this.log = options.log ?? createLogger('silent', 'inference');
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      new Agent({ connect: { timeout: timeouts.connectMs }, connectTimeout: timeouts.connectMs });
    this.http = new InferenceHttp({
      apiUrl: options.apiUrl ?? INFERENCE_DEFAULTS.apiUrl,
      apiKey: options.apiKey,
      dispatcher: this.dispatcher,
      timeouts,
      retry: { ...INFERENCE_DEFAULTS.retry, ...options.retry },
      userAgent,
    });
    this.errors = new ErrorTranslator((text) => this.http.scrub(text), this.app);
    this.availability = new AppAvailability(
      options.availability,
      this.log,
      options.appRecheckMs ?? INFERENCE_DEFAULTS.appRecheckMs,
    );
    const uploader = new InputUploader(this.http);
    this.starter = new TaskStarter({
      backend: this.name,
      http: this.http,
      uploader,
      errors: this.errors,
      configuredApp: this.app,
      availability: this.availability,
    });
    this.follower = new TaskFollower(
      { http: this.http, durations: options.durations, errors: this.errors },
      {
        configuredApp: this.app,
        reconnect: { ...INFERENCE_DEFAULTS.reconnect, ...options.reconnect },
        pollIntervalMs: options.pollIntervalMs ?? INFERENCE_DEFAULTS.pollIntervalMs,
        maxPollErrors: options.maxPollErrors ?? INFERENCE_DEFAULTS.maxPollErrors,
        streamResyncMs: options.streamResyncMs ?? INFERENCE_DEFAULTS.streamResyncMs,
        followDeadlineMs: options.followDeadlineMs ?? INFERENCE_DEFAULTS.followDeadlineMs,
        fallbackDuration: { ...INFERENCE_DEFAULTS.fallbackDuration, ...options.fallbackDuration },
      },
    );
    this.canceller = new TaskCanceller(
      { http: this.http, errors: this.errors },
      {
        waitMs: options.cancelWaitMs ?? INFERENCE_DEFAULTS.cancelWaitMs,
        pollMs: options.cancelPollMs ?? INFERENCE_DEFAULTS.cancelPollMs,
      },
    );
    this.downloader = new ResultDownloader(this.http, {
      dispatcher: this.dispatcher,
      apiHost: this.http.origin.host,
      outputHosts: options.outputHosts ?? [],
      maxOutputBytes: options.maxOutputBytes ?? INFERENCE_DEFAULTS.maxOutputBytes,
      userAgent,
    });
  }

  describeIgnored(request: GenerationRequest): string[] {
    return describeIgnored(request);
  }

  submit(job: BackendJob, hooks: SubmitHooks, signal: AbortSignal): Promise<RemoteTaskRef> {
    return this.starter.start(job, hooks, signal);
  }

  follow(ref: RemoteTaskRef, job: BackendJob, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    return this.follower.follow(ref, job, signal);
  }

  cancel(ref: RemoteTaskRef, log: Logger): Promise<void> {
    return this.canceller.cancel(ref, log);
  }

  /** Whether a result URL may be fetched: the API host, *.inference.sh, or a configured output host. */
  isAllowedOutputHost(url: URL): boolean {
    return this.downloader.isAllowed(url);
  }

  download(output: BackendOutput, signal: AbortSignal): Promise<VideoStream> {
    return this.downloader.download(output, signal);
  }

  /**
   * Compares the published input schema of a model's app (default: INFERENCE_APP's) with the adapter
   * (wan-apps.md, rule 3). Returns one message per mismatch, the optional fields the schema leaves out
   * in one line; empty means they agree. An app that is gone is reported to the availability sink.
   */
  checkApp(model?: ModelId): Promise<string[]> {
    return checkApp(this.appCheckContext('idempotent'), model);
  }

  private appCheckContext(mode: AppCheckContext['mode']): AppCheckContext {
    return {
      http: this.http,
      errors: this.errors,
      configuredApp: this.app,
      log: this.log,
      availability: this.availability,
      mode,
    };
  }

  /** The start-up check of every model's app, so a retired one is refused before anyone asks for it. */
  async checkApps(): Promise<string[]> {
    // An INFERENCE_APP that is none of Kinema's apps is worth saying first.
    const foreign = modelForApp(this.app) ? [] : await this.checkApp();
    const found = await Promise.all(MODEL_IDS.map((model) => this.checkApp(model)));
    return [...foreign, ...found.flat()];
  }

  /**
   * Reachability, key and app in one cheap call: `GET /apps/{namespace}/{name}` of INFERENCE_APP.
   * Now and then it also looks again at the other apps found gone, so their record stays true.
   */
  async health(): Promise<{ ok: boolean; message?: string }> {
    const profile = modelForApp(this.app);
    // One try each: a heartbeat must not wait out retries.
    for (const model of this.availability.dueForRecheck()) {
      if (model !== profile?.id) await checkApp(this.appCheckContext('once'), model).catch(() => undefined);
    }
    try {
      await this.http.json('GET', appPath(this.app), { mode: 'once', log: this.log });
      if (profile) await this.availability.present(profile.id);
      return { ok: true };
    } catch (error) {
      if (error instanceof InferenceApiError && error.status === 404 && profile) {
        await this.availability.gone(profile.id, appName(this.app));
        return { ok: false, message: this.errors.unavailable(this.app, profile).message };
      }
      return { ok: false, message: this.errors.translate(error).message };
    }
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}
