import type { Dispatcher } from 'undici';
import type { Logger } from '../../log.js';
import type { ModelAvailabilitySink } from '../backend.js';
import type { DurationHistory } from '../durations.js';
import type { InferenceTimeouts, RetryPolicy } from './http.js';

/** What the inference.sh backend can be told, and what it does when told nothing. */

export interface InferenceBackendOptions {
  /** Default `https://api.inference.sh`. */
  apiUrl?: string;
  /** `INFERENCE_API_KEY`; sent only to the API origin, never to storage or output hosts. */
  apiKey: string;
  /** `INFERENCE_APP`, `namespace/name` optionally pinned as `@version`. Default `infsh/wan2-2-i2v-a14b`. */
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
  /** Told when a model's app is found gone (404) or answering again; see ModelAvailabilitySink. */
  availability?: ModelAvailabilitySink;
  /** How often health() looks again at the apps found gone, at most. Default 5 min. */
  appRecheckMs?: number;
}

export const INFERENCE_DEFAULTS = {
  apiUrl: 'https://api.inference.sh',
  app: 'infsh/wan2-2-i2v-a14b',
  maxOutputBytes: 512 * 1024 * 1024,
  // Heartbeats come every 10 s (spec §6): 12 s without any line is a dead stream (a late heartbeat
  // costs one status read and a reconnect), noticed well within 15 s rather than the SDKs' 45 s.
  timeouts: { connectMs: 10_000, jsonMs: 30_000, streamSilenceMs: 12_000, downloadMs: 180_000 },
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
  appRecheckMs: 5 * 60_000,
} as const satisfies Omit<
  Required<InferenceBackendOptions>,
  'apiKey' | 'durations' | 'outputHosts' | 'dispatcher' | 'log' | 'availability'
>;
