import { ConfigurationError, isPermanent, TransientError, UserFacingError } from '../../core/errors.js';
import type { ModelProfile } from '../../core/models.js';
import { MODEL_IDS } from '../../core/request.js';
import { INFERENCE_APPS, modelForApp } from './apps.js';
import { InferenceApiError } from './envelope.js';
import { NetworkError } from './network-error.js';

/**
 * What inference.sh failures mean to the pipeline and to a person: each becomes one of the core's
 * error types (which decide retry or not) with a message that says what to do.
 */

/** What the failing call was about, so a 404 can name the app or the task. */
export interface ErrorContext {
  app?: string;
  taskId?: string;
}

/** The error to throw once the job's signal has ended. */
export const abortError = (signal: AbortSignal): Error =>
  signal.reason instanceof Error
    ? signal.reason
    : new DOMException('the operation was aborted', 'AbortError');

export class ErrorTranslator {
  /**
   * @param redact masks the API key in any text that may reach a user or a log
   * @param configuredApp INFERENCE_APP, offered as the way out when another model's app is gone
   */
  constructor(
    private readonly redact: (text: string) => string,
    private readonly configuredApp: string,
  ) {}

  /** "model unavailable": the app is retired or misspelt; names the models that are left. */
  unavailable(app: string, profile: ModelProfile): ConfigurationError {
    const appOf = (id: keyof typeof INFERENCE_APPS) => INFERENCE_APPS[id].app;
    const configured = modelForApp(this.configuredApp);
    const others = MODEL_IDS.filter((id) => appOf(id) !== appOf(profile.id));
    const hint =
      configured && appOf(configured.id) !== appOf(profile.id)
        ? `Use the model ${configured.id} (the configured INFERENCE_APP ${this.configuredApp}) instead, or pick another model (${others.join(', ')}).`
        : `Pick another model (${others.join(', ')}) or set INFERENCE_APP to an app that exists, e.g. ${appOf(others[0] ?? 'wan2.2-a14b')}.`;
    return new ConfigurationError(
      `model unavailable: inference.sh has no app ${app} (${profile.label}; it may have been retired). ${hint}`,
    );
  }

  /** Turns anything thrown into one of the pipeline's error types, with a message a person can act on. */
  translate(error: unknown, context: ErrorContext = {}): Error {
    if (isPermanent(error) || error instanceof TransientError) return error as Error;
    if (error instanceof InferenceApiError) return this.fromAnswer(error, context);
    if (error instanceof NetworkError) {
      return new TransientError(`inference.sh is not reachable (${this.redact(error.message)})`, undefined, {
        cause: error,
      });
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  private fromAnswer(error: InferenceApiError, context: ErrorContext): Error {
    const detail = this.redact(error.detail);
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
        .map((m) => this.redact(m));
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
        { cause: error },
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
}
