/**
 * What the rest of Kinema tells whoever measures it (the Prometheus metrics in `src/ops/metrics.ts`),
 * as plain events with no metrics library behind them: the worker, the deliveries, the acks and the
 * send scheduler call `telemetry.*`; an entry point attaches a listener. Nothing listens by default,
 * and a listener that throws never disturbs the caller.
 */

export type OutcomeKind = 'succeeded' | 'failed' | 'cancelled' | 'withheld';

export interface TelemetryListener {
  /** A job reached its final outcome (where it happened: a worker, or a cancel in the bot). */
  jobFinished?(event: { outcome: OutcomeKind; model: string; backend: string; platform: string }): void;
  /** A worker took a job for the first time: how long it waited in line. */
  jobStarted?(event: { waitSeconds: number }): void;
  /** A video was rendered: from the backend's submission to the stored result. */
  jobRendered?(event: { renderSeconds: number }): void;
  /** An outcome was posted in chat: from the worker handing it over to the post. */
  jobDelivered?(event: { platform: string; deliverySeconds: number }): void;
  /** A chat interaction was acknowledged (defer or ack). */
  acked?(event: { platform: string; seconds: number }): void;
  /** A backend call failed; `kind` is the error's class (transient, configuration, …). */
  backendError?(event: { backend: string; kind: string }): void;
  /** The chat platform answered 429. */
  chatRateLimited?(event: { platform: string }): void;
}

const listeners = new Set<TelemetryListener>();

function emit<K extends keyof TelemetryListener>(
  name: K,
  event: Parameters<NonNullable<TelemetryListener[K]>>[0],
): void {
  for (const listener of listeners) {
    try {
      (listener[name] as ((event: unknown) => void) | undefined)?.(event);
    } catch {
      // Measuring never breaks the thing measured.
    }
  }
}

export const telemetry: Required<TelemetryListener> = {
  jobFinished: (event) => emit('jobFinished', event),
  jobStarted: (event) => emit('jobStarted', event),
  jobRendered: (event) => emit('jobRendered', event),
  jobDelivered: (event) => emit('jobDelivered', event),
  acked: (event) => emit('acked', event),
  backendError: (event) => emit('backendError', event),
  chatRateLimited: (event) => emit('chatRateLimited', event),
};

/** Attaches a listener; the returned function detaches it. */
export function listenToTelemetry(listener: TelemetryListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The error's kind as a metric label: its class name without `Error`, in lower case. */
export function errorKind(error: unknown): string {
  const name = error instanceof Error ? error.name : 'unknown';
  return name.replace(/Error$/, '').toLowerCase() || 'error';
}
