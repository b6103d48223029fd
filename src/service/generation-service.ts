import type { GenerationJobData, JobPlace, ParentKind, QueueBand } from '../core/job.js';
import { finaliseRequest, resolveSeed } from '../core/request.js';
import { remixSettings, resultDetails } from '../core/result-details.js';
import type { CancelResult } from '../queue/cancel.js';
import { deliveryQueueName } from '../queue/connection.js';
import { personOf } from '../queue/generation-queue.js';
import { JobGroups, variantJobId } from '../queue/job-groups.js';
import type { JobRecord } from '../queue/records.js';
import { AdminDesk } from './admin-desk.js';
import { AuditTrail } from './audit-trail.js';
import { capabilityChecks, extrasAsked } from './capability-checks.js';
import {
  type Ask,
  type Check,
  evaluate,
  type Origin,
  quotaRefusal,
  RELAX_NOTICE,
  STAGES,
  type Stage,
  standardChecks,
} from './checks.js';
import { Community } from './community.js';
import {
  type DerivedJobSteps,
  type DeriveHooks,
  deriveJob,
  type MakeRequest,
  textVerdictOf,
} from './derived-jobs.js';
import { chainRefusal, ExtensionFiles, extensionSteps } from './extend.js';
import { type ImageSource, InputImages } from './input-images.js';
import { MemberDesk } from './member-desk.js';
import { OperatorDesk } from './operator-desk.js';
import { underPersonLock } from './person-lock.js';
import { type FeedOptions, PlatformFeed, type StatusSink } from './platform-feed.js';
import { type Refusal, RefusedError } from './refusals.js';
import { ImageScreening } from './screening.js';
import { type ServerSettingValues, serverOf } from './server-settings.js';
import type {
  Actor,
  EnqueueContext,
  ExtendInput,
  JobDetails,
  JobToQueue,
  QueuePosition,
  RemixInput,
  RerunInput,
  ServiceDeps,
  ServiceSettings,
  SubmitInput,
  Submitted,
} from './service-types.js';
import { UserJobs } from './user-jobs.js';
import { groupCancelResult, planVariants, reserveGroup, waitingVariants } from './variants.js';

export type * from './service-types.js';

/**
 * The platforms' only door: everything about a job except parsing, drawing and sending. Submit
 * (checks, the image downloaded, moderated and stored, the quota reserved, enqueue), rerun, cancel,
 * withdraw, the queue position, the stored result, the bot-side feed of progress and outcomes, and
 * the views the commands need (`members`, `admin`). Platforms render what it answers.
 */
export class GenerationService {
  readonly community: Community;
  /** A person's jobs and quota (`/kinema jobs`, `/kinema quota`). */
  readonly members: MemberDesk;
  /** A server's queue, pauses, settings, audit and spend, and cancel by id (`/kinema-admin`). */
  readonly admin: AdminDesk;
  /** The whole bot for the web dashboard (/admin), acting through `admin` as a bot owner. */
  readonly operator: OperatorDesk;
  private readonly userJobs: UserJobs;
  private readonly serverJobs: UserJobs;
  private readonly images: InputImages;
  private readonly checks: Check[];
  private readonly trail: AuditTrail;
  private readonly groups: JobGroups;
  private readonly extensions: ExtensionFiles;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly settings: ServiceSettings,
  ) {
    this.community = new Community(deps.redis, deps.prefix, deps.queue, {
      env: {
        ...settings.community,
        MAX_ACTIVE_PER_USER: settings.limits.maxRunningPerUser,
        MAX_QUEUED_PER_USER: settings.limits.maxWaitingPerUser,
      },
      defaultModel: settings.defaultModel,
      ...(settings.classifier ? { classifier: settings.classifier } : {}),
    });
    this.userJobs = new UserJobs(deps.redis, deps.prefix, deps.queue);
    this.serverJobs = new UserJobs(deps.redis, deps.prefix, deps.queue, 'server-jobs');
    this.images = new InputImages(deps.inputs, settings.maxInputBytes);
    this.trail = new AuditTrail(this.community.audit, deps.log);
    this.groups = new JobGroups(deps.redis, deps.prefix);
    this.extensions = new ExtensionFiles(deps.results, deps.inputs, settings.maxInputBytes);
    const { community } = this;
    this.checks = [
      ...standardChecks({
        load: (requester) => this.userJobs.load(personOf(requester)),
        moderateText: (text, terms) => community.text.check(text, terms),
        quota: (requester, server) => community.quotas.peek(requester, community.quotaLimits(server)),
        paused: async (requester) => {
          const { bot, server } = await community.pause.state(serverOf(requester));
          return bot ? 'bot' : server ? 'server' : undefined;
        },
        backendStatus: () => deps.backendStatus(),
        unavailableModels: () => deps.unavailableModels(),
      }),
      ...capabilityChecks(settings.capabilities, settings.fetchPolicy),
      ...(settings.extraChecks ?? []),
    ];
    this.members = new MemberDesk(community, deps.queue, this.userJobs);
    this.admin = new AdminDesk(community, deps.queue, this.serverJobs, (request) => deps.cancel(request));
    this.operator = new OperatorDesk({
      admin: this.admin,
      queue: deps.queue,
      audit: { recent: (query) => community.audit.recent(query) },
      results: deps.results,
      backendStatus: () => deps.backendStatus(),
      unavailableModels: () => deps.unavailableModels(),
    });
  }

  private serverSettings(origin: Origin): Promise<ServerSettingValues> {
    return this.community.settings.effective(serverOf(origin.requester));
  }

  /**
   * The first refusal of the checks up to `upTo`, for a platform that answers before a request
   * exists (a form about to open, a form being validated). Submit and rerun check everything again.
   */
  async refusal(origin: Origin, upTo: Stage = 'access'): Promise<Refusal | undefined> {
    const ask = { settings: await this.serverSettings(origin) };
    return (await evaluate(this.checks, origin, STAGES.slice(0, STAGES.indexOf(upTo) + 1), ask)).refusal;
  }

  /** What is wrong with an image by what its platform declared, without downloading it (pure). */
  declaredImageProblem(source: ImageSource, label = 'image'): string | undefined {
    return this.images.declaredProblem(source, label);
  }

  /** Throws the refusal of the stages, or returns their notices. */
  private async admit(origin: Origin, stages: readonly Stage[], ask: Ask): Promise<string[]> {
    const { refusal, notices } = await evaluate(this.checks, origin, stages, ask);
    if (refusal) throw new RefusedError(refusal);
    return notices;
  }

  private async existing(jobId: string): Promise<Submitted | undefined> {
    const job = await this.deps.queue.queue.getJob(jobId);
    return job ? { jobId, duplicate: true, request: job.data.request } : undefined;
  }

  /** Checks every rule once, screens and stores the images, reserves the quota, and enqueues. */
  async submit(input: SubmitInput): Promise<Submitted> {
    const { origin } = input;
    const settings = await this.serverSettings(origin);
    const text = { prompt: input.settings.prompt, negativePrompt: input.settings.negative_prompt };
    const model = input.settings.model ?? settings.model;
    const count = input.settings.variants ?? 1;
    const ask: Ask = { settings, model, text, count, ...extrasAsked(input.settings, input.images) };
    const asked = { ...text, model: ask.model! };
    const screening = new ImageScreening(
      this.community,
      this.images,
      settings,
      origin.place.ageRestricted === true,
      this.deps.log,
    );
    return this.trail.around(
      input.jobId,
      origin,
      asked,
      async () => {
        await this.admit(origin, ['access', 'content'], ask);
        const existing = await this.existing(input.jobId);
        if (existing) return existing;
        return underPersonLock(this.deps.redis, this.deps.prefix, personOf(origin.requester), async () => {
          const notices = await this.admit(origin, ['capacity', 'service'], ask);
          const input_image = await screening.store(input.images.input_image, 'image');
          const end_frame = input.images.end_frame
            ? await screening.store(input.images.end_frame, 'end frame')
            : undefined;
          const request = finaliseRequest(input.settings, { input_image, end_frame }, settings.model);
          const job = { request, reportTo: input.reportTo, notes: input.notes };
          const verdicts = { text: textVerdictOf(settings), input: screening.verdict };
          const context = { settings, verdicts };
          return count > 1
            ? this.enqueueVariants(
                input.jobId,
                origin,
                job,
                { count, seed: input.settings.seed },
                notices,
                context,
              )
            : this.enqueue(input.jobId, origin, job, notices, context);
        });
      },
      () => screening.verdict,
    );
  }

  /** N jobs of one request, distinct seeds, one group; refused whole when the quotas cannot take N. */
  private async enqueueVariants(
    lead: string,
    origin: Origin,
    job: JobToQueue,
    asked: { count: number; seed?: number },
    notices: string[],
    context: EnqueueContext,
  ): Promise<Submitted> {
    const jobs = planVariants(lead, job.request, asked.count, asked.seed);
    const limits = this.community.quotaLimits(context.settings);
    const relax = context.settings.quota_overflow === 'relax';
    const ids = jobs.map((variant) => variant.jobId);
    await reserveGroup(this.community.quotas, origin.requester, ids, limits, relax);
    await this.groups.create(lead, ids);
    const submitted: Submitted[] = [];
    for (const { jobId, request, group } of jobs) {
      submitted.push(await this.enqueue(jobId, origin, { ...job, request, group }, notices, context));
    }
    return { ...submitted[0]!, variants: waitingVariants(jobs) };
  }

  private async enqueue(
    jobId: string,
    origin: Origin,
    job: JobToQueue,
    notices: string[],
    context: EnqueueContext,
  ): Promise<Submitted> {
    const { requester, place } = origin;
    const data: GenerationJobData = {
      request: job.request,
      requester,
      // The worker reads it to decide whether a flagged result may still be posted there.
      reportTo: { ...job.reportTo, ageRestricted: place.ageRestricted === true },
      deliverVia: deliveryQueueName(requester.platform),
      ...(job.parentJobId ? { parentJobId: job.parentJobId, parentKind: job.parentKind ?? 'rerun' } : {}),
      ...(job.extension ? { extension: job.extension } : {}),
      ...(job.group ? { group: job.group } : {}),
      createdAt: Date.now(),
      notes: job.notes ?? [],
      place: jobPlace(origin),
    };
    const { quotas } = this.community;
    const reserved = await quotas.reserve(requester, jobId, this.community.quotaLimits(context.settings));
    if (!reserved.ok && context.settings.quota_overflow !== 'relax') {
      throw new RefusedError(quotaRefusal(reserved));
    }
    const band: QueueBand = reserved.ok ? 'normal' : 'relax';
    let result: { duplicate: boolean };
    try {
      result = await this.deps.queue.enqueue(jobId, data, { band });
    } catch (error) {
      await quotas.release(requester, jobId).catch(() => undefined);
      throw error;
    }
    if (!result.duplicate) {
      await this.userJobs.add(personOf(requester), jobId);
      await this.serverJobs.add(serverOf(requester), jobId);
      const { prompt, negative_prompt: negativePrompt, model, seed } = job.request;
      await this.trail.queued(jobId, origin, { prompt, negativePrompt, model, seed }, context.verdicts);
    }
    const told = [
      ...notices.filter((notice) => notice !== RELAX_NOTICE),
      ...(band === 'relax' ? [RELAX_NOTICE] : []),
    ];
    return {
      jobId,
      duplicate: result.duplicate,
      request: data.request,
      ...(told.length > 0 ? { notice: told.join('\n') } : {}),
      ...(band === 'relax' ? { relaxed: true } : {}),
    };
  }

  async record(jobId: string): Promise<JobRecord | undefined> {
    return this.deps.queue.records.get(jobId);
  }

  /**
   * Same image, prompt and settings, a new seed; the parent is linked. `jobId` comes from the
   * click or reaction, so two deliveries of it start one job. A rerun is a new paid job: every
   * rule applies (the prompt too: the server's blocked terms may have changed since).
   */
  rerun(parentJobId: string, input: RerunInput): Promise<Submitted> {
    return this.derive(parentJobId, input, 'rerun', (parent) => ({
      ...parent,
      seed: resolveSeed(undefined),
    }));
  }

  /**
   * The parent's stored image (and end frame) with edited settings on top; the parent is linked.
   * `jobId` comes from the form (its view or the click that opened it), so a double submit starts
   * one job. Every rule applies to the edited request, the new prompt included.
   */
  remix(parentJobId: string, input: RemixInput): Promise<Submitted> {
    return this.derive(parentJobId, input, 'remix', (parent) =>
      finaliseRequest(remixSettings(parent, input.settings), parent, parent.model),
    );
  }

  /** From the parent's last frame, delivered after the parent's video; one job per form (extend.ts). */
  extend(parentJobId: string, input: ExtendInput): Promise<Submitted> {
    const { make, hooks } = extensionSteps(this.extensions, this.settings.maxExtensions, parentJobId, input);
    return this.derive(parentJobId, input, 'extend', make, hooks);
  }

  /** Why the job cannot be extended once more (MAX_EXTENSIONS), or nothing: before a form opens. */
  async extendRefusal(jobId: string): Promise<string | undefined> {
    const record = await this.record(jobId);
    return record ? chainRefusal(record, this.settings.maxExtensions) : undefined;
  }

  /** A job made from a stored one (derived-jobs.ts), through this service's own steps. */
  private derive(
    parentId: string,
    input: RerunInput,
    kind: ParentKind,
    make: MakeRequest,
    hooks?: DeriveHooks,
  ) {
    const steps: DerivedJobSteps = {
      redis: this.deps.redis,
      prefix: this.deps.prefix,
      storageDays: this.settings.storageDays,
      trail: this.trail,
      record: (jobId) => this.record(jobId),
      serverSettings: (origin) => this.serverSettings(origin),
      admit: (origin, stages, ask) => this.admit(origin, stages, ask),
      existing: (jobId) => this.existing(jobId),
      inputExists: (image) => this.deps.inputs.exists(image),
      originalExists: (extension) => this.extensions.originalExists(extension),
      enqueue: (jobId, origin, job, notices, context, count = 1) =>
        count > 1
          ? this.enqueueVariants(jobId, origin, job, { count }, notices, context)
          : this.enqueue(jobId, origin, job, notices, context),
    };
    return deriveJob(steps, parentId, input, kind, make, hooks);
  }

  /** What a job asked for, as the "Details" button shows it; undefined once its record expired. */
  async details(jobId: string): Promise<JobDetails | undefined> {
    const record = await this.record(jobId);
    return record ? { jobId, ...record, ...resultDetails(record.request) } : undefined;
  }

  /** Only the requester or a moderator may cancel. */
  async cancel(jobId: string, actor: Actor): Promise<CancelResult> {
    const record = await this.record(jobId);
    if (!record) return 'unknown';
    if (record.requester.userId !== actor.userId && !actor.canModerate) {
      throw new RefusedError({ reason: 'not-owner' });
    }
    const by = actor.displayName ?? actor.userId;
    const { group } = record;
    if (!group) return this.deps.cancel({ jobId, by });
    // A group is cancelled whole: what is done is posted, the rest stops.
    const ids = Array.from({ length: group.size }, (_, i) => variantJobId(group.lead, i + 1));
    return groupCancelResult(await Promise.all(ids.map((id) => this.deps.cancel({ jobId: id, by }))));
  }

  /** Takes back a job nobody can follow (its status message could not be posted). */
  async withdraw(jobId: string): Promise<void> {
    await this.deps.cancel({ jobId, by: 'Kinema' });
  }

  /** 1-based place among waiting jobs; undefined once it left the line. */
  position(jobId: string): Promise<QueuePosition | undefined> {
    return this.deps.queue.position(jobId);
  }

  /** The finished video, streamed from storage; undefined once it expired. */
  openResult(videoKey: string) {
    return this.deps.results.open(videoKey);
  }

  /** The bot-side feed of one platform: status edits through `sink`, outcomes to its deliverer. */
  feed(platform: string, sink: StatusSink, options: FeedOptions): PlatformFeed {
    return new PlatformFeed(this.deps, platform, sink, options);
  }
}

/** Where a request was made, as the job keeps it for lists and refusals. */
function jobPlace({ requester, place }: Origin): JobPlace {
  return {
    channelId: place.channelId,
    isDirectMessage: place.isDirectMessage,
    ...(requester.scopeId && !place.isDirectMessage ? { serverId: requester.scopeId } : {}),
    ...(place.serverName ? { serverName: place.serverName } : {}),
  };
}
