/**
 * Errors the pipeline understands. Each carries a message meant for the person who asked, so
 * adapters can show it as is; details for operators go to the log.
 */

/** The user's input or settings cannot work; retrying changes nothing. */
export class UserFacingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UserFacingError';
  }
}

/** A problem with the service's setup (bad key, missing model); retrying changes nothing. */
export class ConfigurationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigurationError';
  }
}

/** A transient failure (network, 5xx, 429): the job may be retried with backoff. */
export class TransientError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** A submission whose outcome is unknown: a task may exist and be billed. Never resubmit blindly. */
export class AmbiguousSubmitError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AmbiguousSubmitError';
  }
}

/** The job was cancelled by a user. */
export class CancelledError extends Error {
  constructor(readonly by?: string) {
    super(by ? `cancelled by ${by}` : 'cancelled');
    this.name = 'CancelledError';
  }
}

export const isPermanent = (error: unknown): boolean =>
  error instanceof UserFacingError ||
  error instanceof ConfigurationError ||
  error instanceof AmbiguousSubmitError ||
  error instanceof CancelledError;
