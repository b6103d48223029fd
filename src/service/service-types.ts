/** The service's inputs and answers, as the platforms and the entry point see them. */
import type { Redis } from 'ioredis';
import type { BackendCapabilities } from '../core/capabilities.js';
import type { ExtensionOf, ParentKind, ReportTarget, VariantOf } from '../core/job.js';
import type { GenerationRequest, GenerationSettings, ModelId } from '../core/request.js';
import type { ResultDetails } from '../core/result-details.js';
import type { VariantState } from '../core/status-text.js';
import type { Logger } from '../log.js';
import type { HostPolicy } from '../media/public-host.js';
import type { CancelRequest, CancelResult } from '../queue/cancel.js';
import type { GenerationQueue } from '../queue/generation-queue.js';
import type { UnavailableModel } from '../queue/model-availability.js';
import type { JobRecord } from '../queue/records.js';
import type { BackendStatus } from '../queue/worker-health.js';
import type { BlobStore } from '../storage/blobs.js';
import type { InputStore } from '../storage/inputs.js';
import type { Verdicts } from './audit-trail.js';
import type { Check, Origin } from './checks.js';
import type { CommunityEnv } from './community.js';
import type { VideoSource } from './extend.js';
import type { ImageSource } from './input-images.js';
import type { ImageClassifier } from './moderation/index.js';
import type { ServerSettingValues } from './server-settings.js';

/** What the service is given by the entry point that wires it (main.ts, or a test). */
export interface ServiceDeps {
  redis: Redis;
  prefix: string;
  queue: GenerationQueue;
  inputs: InputStore;
  results: BlobStore;
  cancel(request: CancelRequest): Promise<CancelResult>;
  backendStatus(): Promise<BackendStatus>;
  /** Models workers found gone; refused at once. */
  unavailableModels(): Promise<ReadonlyMap<ModelId, UnavailableModel>>;
  log: Logger;
}

export interface ServiceLimits {
  maxRunningPerUser: number;
  maxWaitingPerUser: number;
}

export interface ServiceSettings {
  defaultModel: ModelId;
  limits: ServiceLimits;
  maxInputBytes: number;
  /** What the backend can do (end frames, LoRAs); default: end frames yes, LoRAs no. */
  capabilities?: BackendCapabilities;
  /** The rule for user-supplied URLs; `allowHosts` is FETCH_ALLOW_HOSTS (tests only). */
  fetchPolicy?: HostPolicy;
  /** Rules beyond the standard ones (checks.ts), evaluated with them. */
  extraChecks?: Check[];
  /**
   * The environment's community settings (quotas, moderation, prices, owners, audit); each left
   * out takes its default (moderation on, no quotas, no prices).
   */
  community?: CommunityEnv;
  /** STORAGE_TTL_DAYS, for telling people how long an input image is kept. */
  storageDays?: number;
  /** MAX_EXTENSIONS: extensions one chain may have (default 4; 0 turns Extend off). */
  maxExtensions?: number;
  /** The image classifier; the process's nsfwjs thread unless a test gives another. */
  classifier?: ImageClassifier;
}

export interface SubmitInput {
  /** Derived from the chat event, so a redelivered event or a double click enqueues once. */
  jobId: string;
  settings: GenerationSettings;
  images: { input_image: ImageSource; end_frame?: ImageSource };
  origin: Origin;
  reportTo: ReportTarget;
  notes?: string[];
}

export interface RerunInput {
  /** From the click or reaction, so two deliveries of it start one job. */
  jobId: string;
  origin: Origin;
  reportTo: ReportTarget;
  /** 🎲 on a group's message: rerun every video of the group (a button reruns one). */
  wholeGroup?: boolean;
}

export interface RemixInput extends RerunInput {
  /** The edited settings, validated by the request schema; the parent's fill in the rest. */
  settings: GenerationSettings;
}

export interface ExtendInput extends RerunInput {
  /** The edited prompt and settings, validated by the request schema; the parent's fill in the rest. */
  settings: GenerationSettings;
  /** The video as it was posted, fetched back only once every check passed (extend.ts). */
  original: VideoSource;
}

/** A job's stored request and who asked, with its settings as people read them. */
export type JobDetails = { jobId: string } & JobRecord & ResultDetails;

export interface Submitted {
  jobId: string;
  duplicate: boolean;
  request: GenerationRequest;
  /** Something the user should know, e.g. that no worker is online yet, or that it is relaxed. */
  notice?: string;
  /** Over quota with QUOTA_OVERFLOW=relax: queued behind everyone within quota. */
  relaxed?: boolean;
  /** A group of variants (`jobId` is its lead): what its one status message shows first. */
  variants?: VariantState[];
}

export type JobToQueue = {
  request: GenerationRequest;
  reportTo: ReportTarget;
  parentJobId?: string;
  parentKind?: ParentKind;
  extension?: ExtensionOf;
  notes?: string[];
  group?: VariantOf;
};
export type EnqueueContext = { settings: ServerSettingValues; verdicts: Verdicts };

export interface Actor {
  userId: string;
  displayName?: string;
  /** Manage Messages on Discord, an admin on Slack: may cancel anyone's job. */
  canModerate: boolean;
}

export type QueuePosition = { position: number; of: number };
