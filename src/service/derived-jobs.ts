import type { Redis } from 'ioredis';
import { UserFacingError } from '../core/errors.js';
import type { ExtensionOf, ParentKind, ReportTarget } from '../core/job.js';
import type { GenerationRequest, StoredImage } from '../core/request.js';
import { personOf } from '../queue/generation-queue.js';
import type { JobRecord } from '../queue/records.js';
import type { AuditTrail, Verdicts } from './audit-trail.js';
import { extrasAsked } from './capability-checks.js';
import type { Ask, Origin, Stage } from './checks.js';
import type { TextVerdict } from './moderation/index.js';
import { underPersonLock } from './person-lock.js';
import type { ServerSettingValues } from './server-settings.js';

/**
 * Jobs made from a stored one: a rerun (new seed) or a remix (edited settings), on the parent's
 * stored image, or an extension (from its last frame, extend.ts), with the parent linked. The same
 * checks as a submit run on the new request. A rerun or remix of an extension is one too: it keeps
 * the video it extends, so it is delivered joined to it as well.
 */

export type MakeRequest = (parent: GenerationRequest) => GenerationRequest;

/** The job a derived request becomes. */
export interface DerivedJob {
  request: GenerationRequest;
  reportTo: ReportTarget;
  parentJobId: string;
  parentKind: ParentKind;
  extension?: ExtensionOf;
}

/** What a kind of derived job adds to the shared path (an extension's, in extend.ts). */
export interface DeriveHooks {
  /** Why the parent cannot be used this way (a chain already at MAX_EXTENSIONS), before any lock. */
  refuse?(parent: JobRecord): string | undefined;
  /** Under the person's lock, once every check passed: the job's own files (an extension's start image). */
  prepare?(job: DerivedJob, parent: JobRecord): Promise<DerivedJob>;
  /** Takes back what `prepare` stored, when the job was refused after all. */
  discard?(job: DerivedJob): Promise<void>;
}

/** The service's RerunInput and Submitted, as far as this file reads them. */
interface DerivedInput {
  /** 🎲 on a group: every video of it. */
  wholeGroup?: boolean;
  jobId: string;
  origin: Origin;
  reportTo: ReportTarget;
}
interface Submitted {
  jobId: string;
  duplicate: boolean;
  request: GenerationRequest;
}

/** What the service lends this file: its checks, its records and its enqueue. */
export interface DerivedJobSteps {
  redis: Redis;
  prefix: string;
  /** STORAGE_TTL_DAYS, for the message about an expired image. */
  storageDays?: number;
  trail: AuditTrail;
  record(jobId: string): Promise<JobRecord | undefined>;
  serverSettings(origin: Origin): Promise<ServerSettingValues>;
  admit(origin: Origin, stages: readonly Stage[], ask: Ask): Promise<string[]>;
  existing(jobId: string): Promise<Submitted | undefined>;
  inputExists(image: StoredImage): Promise<boolean>;
  /** Whether the stored video an extension continues is still there. */
  originalExists(extension: ExtensionOf): Promise<boolean>;
  enqueue(
    jobId: string,
    origin: Origin,
    job: DerivedJob,
    notices: string[],
    context: { settings: ServerSettingValues; verdicts: Verdicts },
    count?: number,
  ): Promise<Submitted>;
}

const VERB: Record<ParentKind, string> = { rerun: 'rerun', remix: 'remixed', extend: 'extended' };

export async function deriveJob(
  steps: DerivedJobSteps,
  parentJobId: string,
  input: DerivedInput,
  kind: ParentKind,
  make: MakeRequest,
  hooks: DeriveHooks = {},
): Promise<Submitted> {
  const { origin } = input;
  const settings = await steps.serverSettings(origin);
  const parent = await steps.record(parentJobId);
  const request = parent ? make(parent.request) : undefined;
  const text = request ? { prompt: request.prompt, negativePrompt: request.negative_prompt } : undefined;
  // 🎲 on a group's message reruns every video of the group.
  const count = kind === 'rerun' && input.wholeGroup ? (parent?.group?.size ?? 1) : 1;
  const ask: Ask = {
    settings,
    count,
    ...(request ? { model: request.model, text, ...extrasAsked(request, request) } : {}),
  };
  const asked = { prompt: text?.prompt ?? '', negativePrompt: text?.negativePrompt, model: ask.model ?? '' };
  return steps.trail.around(input.jobId, origin, asked, async () => {
    await steps.admit(origin, ['access'], ask);
    if (!request || !parent) {
      throw new UserFacingError(
        `that video is too old to ${kind} (its settings have expired); start a new /animate`,
      );
    }
    const refused = hooks.refuse?.(parent);
    if (refused) throw new UserFacingError(refused);
    await steps.admit(origin, ['content'], ask);
    const existing = await steps.existing(input.jobId);
    if (existing) return existing;
    const kept = steps.storageDays ? ` (files are kept ${steps.storageDays} days)` : '';
    // An extension starts from the parent's last frame, made in `prepare`, not from its image.
    if (kind !== 'extend' && !(await steps.inputExists(request.input_image))) {
      throw new UserFacingError(
        `the stored copy of that video's image has expired${kept}, so it cannot be ${VERB[kind]}; start a new /animate with the image attached`,
      );
    }
    const carried = kind === 'extend' ? undefined : parent.extension;
    if (carried && !(await steps.originalExists(carried))) {
      throw new UserFacingError(
        `the stored copy of the video that one extends has expired${kept}, so it cannot be ${VERB[kind]}; extend the video again`,
      );
    }
    const { redis, prefix } = steps;
    // A rerun: a double click or a reaction added twice within seconds is one. A remix or an
    // extension: one per form.
    const lock =
      kind === 'rerun'
        ? `${prefix}:rerun-lock:${parentJobId}:${origin.requester.userId}`
        : `${prefix}:${kind}-lock:${input.jobId}`;
    if ((await redis.set(lock, input.jobId, 'EX', kind === 'rerun' ? 10 : 600, 'NX')) !== 'OK') {
      const holder = (await redis.get(lock)) ?? input.jobId;
      return { jobId: holder, duplicate: true, request };
    }
    try {
      return await underPersonLock(redis, prefix, personOf(origin.requester), async () => {
        const notices = await steps.admit(origin, ['capacity', 'service'], ask);
        const asked: DerivedJob = {
          request,
          reportTo: input.reportTo,
          parentJobId,
          parentKind: kind,
          ...(carried ? { extension: carried } : {}),
        };
        const job = hooks.prepare ? await hooks.prepare(asked, parent) : asked;
        const context = { settings, verdicts: { text: textVerdictOf(settings) } };
        try {
          return await steps.enqueue(input.jobId, origin, job, notices, context, count);
        } catch (error) {
          await hooks.discard?.(job);
          throw error;
        }
      });
    } catch (error) {
      // Refused (caps, quota, backend down): the next click must be able to try again.
      await redis.del(lock);
      throw error;
    }
  });
}

/** A request that passed the checks passed the prompt check, when it ran. */
export const textVerdictOf = (settings: ServerSettingValues): TextVerdict =>
  settings.moderation_text ? { status: 'ok' } : { status: 'off' };
