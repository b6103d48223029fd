import type { Job } from 'bullmq';
import type { Cost, GenerationJobData, HoldReason } from '../core/job.js';
import type { Logger } from '../log.js';
import { sampleFrames } from '../media/video.js';
import { personOf } from '../queue/generation-queue.js';
import type { Admission, WorkerPolicy } from '../queue/worker-policy.js';
import type { Community } from './community.js';
import { type ImageVerdict, isBlocked, withheldResultNotice } from './moderation/index.js';
import { serverOf } from './server-settings.js';

/** A job held back is looked at again after this long even if nothing promotes it (a crash). */
const CAP_RECHECK_MS = 60_000;
const PAUSE_RECHECK_MS = 10 * 60_000;

const CLASSIFIER_DOWN =
  'Your video was made but not posted: the content check could not run, and nothing is posted unchecked. Please try again later.';

/**
 * The worker side of a community's rules (the queue's WorkerPolicy): a paused server's jobs and a
 * person's jobs beyond MAX_ACTIVE_PER_USER are put back; what was submitted counts against quotas
 * and is summed as spend; every result is checked on three frames before it may be posted.
 */
export class CommunityWorkerPolicy implements WorkerPolicy {
  constructor(
    private readonly community: Community,
    private readonly log: Logger,
  ) {}

  async admit(job: Job<GenerationJobData>): Promise<Admission> {
    const { data } = job;
    const server = serverOf(data.requester);
    // A job that already has a task at the backend is rendering (and paid for) whatever we decide.
    const started = Boolean(data.remote);
    if (!started && (await this.community.pause.serverPaused(server))) {
      return { run: false, held: 'paused', retryInMs: PAUSE_RECHECK_MS };
    }
    const settings = await this.community.settings.effective(server);
    const claimed = await this.community.slots.claim(
      personOf(data.requester),
      job.id!,
      settings.max_active_per_user,
      started,
    );
    if (!claimed) return { run: false, held: 'cap', retryInMs: CAP_RECHECK_MS };
    await this.community.capHeld.remove(personOf(data.requester), job.id!);
    return { run: true };
  }

  async parked(job: Job<GenerationJobData>, held: HoldReason): Promise<void> {
    const { data } = job;
    if (held === 'paused') {
      const server = serverOf(data.requester);
      await this.community.pause.held.add(server, job.id!, job.priority);
      if (!(await this.community.pause.serverPaused(server)))
        await this.community.pause.held.promoteAll(server);
      return;
    }
    const person = personOf(data.requester);
    await this.community.capHeld.add(person, job.id!, job.priority);
    const settings = await this.community.settings.effective(serverOf(data.requester));
    if ((await this.community.slots.rendering(person)) < settings.max_active_per_user) {
      await this.community.capHeld.promoteFirst(person);
    }
  }

  async release(job: Job<GenerationJobData>): Promise<void> {
    const person = personOf(job.data.requester);
    await this.community.slots.release(person, job.id!);
    await this.community.capHeld.promoteFirst(person);
  }

  async submitted(jobId: string, data: GenerationJobData): Promise<void> {
    await this.community.quotas.commit(data.requester, jobId);
    const cost = this.cost(data);
    if (cost) await this.community.spend.record(jobId, serverOf(data.requester), cost);
  }

  cost(data: GenerationJobData): Cost | undefined {
    return this.community.prices.cost(data.request);
  }

  /**
   * Three frames (first, middle, last) through the classifier, under the job's server's settings.
   * Fails safe: a result that cannot be checked is not posted.
   */
  async inspect(jobId: string, data: GenerationJobData, videoPath: string): Promise<{ withhold?: string }> {
    const settings = await this.community.settings.effective(serverOf(data.requester));
    let verdict: ImageVerdict;
    try {
      const images = this.community.images(settings);
      verdict = settings.moderation_images
        ? await images.checkFrames(await sampleFrames(videoPath))
        : { status: 'off' };
    } catch (error) {
      this.log.error({ err: error, jobId }, 'could not check the result; withholding it');
      await this.community.audit
        .update(jobId, { detail: 'the content check could not run' })
        .catch(() => false);
      return { withhold: CLASSIFIER_DOWN };
    }
    await this.community.audit
      .update(jobId, { resultVerdict: verdict })
      .catch((error) => this.log.warn({ err: error, jobId }, 'could not audit the result verdict'));
    const allowIn = settings.moderation_allow_in_nsfw_channels;
    const place = { ageRestricted: data.reportTo.ageRestricted === true };
    if (verdict.status !== 'flagged' || !isBlocked(verdict, place, allowIn)) return {};
    return { withhold: withheldResultNotice(verdict, { allowedInAgeRestrictedChannels: allowIn }) };
  }
}
