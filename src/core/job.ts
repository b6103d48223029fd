import type { GenerationRequest } from './request.js';

/** Who asked, in platform-neutral terms. */
export interface Requester {
  platform: string;
  userId: string;
  displayName?: string;
  /** Guild, workspace or other scope the per-user caps are counted in. */
  scopeId?: string;
}

/** Where a job was asked for, as every platform can say it: for "2 waiting in #art on Server A". */
export interface JobPlace {
  channelId: string;
  /** Discord guild or Slack workspace; absent in DMs. */
  serverId?: string;
  serverName?: string;
  isDirectMessage: boolean;
}

/** Why a worker put a job back instead of starting it (see the worker's policy). */
export type HoldReason =
  /** Its person already has MAX_ACTIVE_PER_USER videos rendering. */
  | 'cap'
  /** Its server is paused by an admin. */
  | 'paused';

/** An estimated price (PRICE_TABLE). */
export interface Cost {
  amount: number;
  currency: string;
}

/**
 * Where to report, as an opaque record only the platform adapter that wrote it reads
 * (e.g. Discord channel and guild, Slack channel and thread). The core passes it through.
 */
export type ReportTarget = { platform: string } & Record<string, string | number | boolean | undefined>;

/** The remote task of a job, saved the moment it exists so a re-run re-attaches instead of paying twice. */
export interface RemoteTaskRef {
  backend: string;
  /** `submitting` is written before the request goes out; a stored `taskId` means the task exists. */
  state: 'submitting' | 'submitted';
  taskId?: string;
  /** Which server of a pool runs it (self-hosted backends). */
  server?: string;
  submittedAt: number;
}

/**
 * A job made from another one's stored image and settings; an `extend` starts from the parent's
 * last frame, and its delivered video is the parent's followed by the continuation.
 */
export type ParentKind = 'rerun' | 'remix' | 'extend';

/** An extension: the video it continues, and how far down its chain it is. */
export interface ExtensionOf {
  /** The video as it was posted (fetched back from the chat at submit), kept for STORAGE_TTL_DAYS. */
  originalKey: string;
  /** 1 for an extension of a first video, 2 for an extension of that one, …; MAX_EXTENSIONS at most. */
  depth: number;
}

/** `relax`: over quota, queued behind every job within quota (QUOTA_OVERFLOW=relax). */
export type QueueBand = 'normal' | 'relax';

/**
 * One of the jobs of a `variants` command: they share one status message and one result post. The
 * lead is the group's first job; its id names the group (and its chat messages).
 */
export interface VariantOf {
  lead: string;
  /** 1-based. */
  index: number;
  size: number;
}

export interface GenerationJobData {
  request: GenerationRequest;
  requester: Requester;
  reportTo: ReportTarget;
  /** Name of the queue that takes the finished outcome to the chat platform, if any. */
  deliverVia?: string;
  parentJobId?: string;
  /** How it came from its parent: a rerun (new seed), a remix (edited settings) or an extension; rerun when absent. */
  parentKind?: ParentKind;
  /** The worker delivers the original followed by this job's video (a rerun or remix of one keeps it). */
  extension?: ExtensionOf;
  group?: VariantOf;
  createdAt: number;
  notes: string[];
  remote?: RemoteTaskRef;
  /** Whom the fair queue counts the job for and in which band; set by the queue when it is added. */
  fairShare?: { person: string; band: QueueBand };
  /** Where it was asked for (the service sets it), for people's job lists and the caps refusal. */
  place?: JobPlace;
  /** Set while a worker holds the job back; cleared when it starts. */
  held?: HoldReason;
}

export const PHASES = ['queued', 'uploading', 'submitted', 'running', 'encoding', 'delivering'] as const;
export type Phase = (typeof PHASES)[number];

export interface JobProgress {
  phase: Phase;
  /** 0-100 when known; never goes backwards within a run. */
  percent?: number;
  /** Epoch ms when the video is expected. */
  etaAt?: number;
  /** A short human line from the backend, e.g. "loading the model" or "step 12/30". */
  detail?: string;
  /** Position among jobs waiting at the backend (self-hosted queues report this). */
  backendQueuePosition?: number;
  taskId?: string;
  updatedAt: number;
}

export interface VideoResult {
  /** Key of the stored mp4 (H.264, yuv420p, faststart); deleted once delivered. */
  videoKey: string;
  /** A small JPEG still of the first frame, kept for STORAGE_TTL_DAYS. */
  posterKey?: string;
  /** The last frame at full resolution (PNG), kept for STORAGE_TTL_DAYS: an extension starts from it. */
  lastFrameKey?: string;
  bytes: number;
  durationSeconds?: number;
  width?: number;
  height?: number;
  seed: number;
  model: string;
  taskId?: string;
  renderMs: number;
  notes: string[];
  /** The estimated price of this video (PRICE_TABLE), when one is configured. */
  cost?: Cost;
}

export type JobOutcome =
  | { kind: 'succeeded'; result: VideoResult }
  | { kind: 'failed'; message: string; notes: string[] }
  | { kind: 'cancelled'; by?: string }
  /**
   * Rendered (and paid for) but not posted: frames of it were flagged by moderation. `notice` is
   * for the requester only; the video itself was deleted.
   */
  | { kind: 'withheld'; notice: string; seed: number; cost?: Cost };

export interface DeliveryJobData {
  jobId: string;
  outcome: JobOutcome;
  request: GenerationRequest;
  requester: Requester;
  reportTo: ReportTarget;
  parentJobId?: string;
  parentKind?: ParentKind;
  group?: VariantOf;
}
