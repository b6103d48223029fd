import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { GenerationJobData, JobProgress } from '../core/job.js';
import {
  type JobSnapshot,
  renderStatus,
  type StatusView,
  statusFingerprint,
  type VariantState,
} from '../core/status-text.js';
import type { Logger } from '../log.js';
import { GENERATE_QUEUE } from './connection.js';
import type { GenerationQueue } from './generation-queue.js';
import { groupComplete, JobGroups, leadOf } from './job-groups.js';

/**
 * The bot side of a job's progress. The path, end to end:
 *
 *   worker (backend progress) → WorkerProgressWriter → job progress in Redis (BullMQ `job.progress`
 *   and its `progress` event) → BotStatusTracker in the bot process → the platform's status sink
 *
 * This is the one coalescer where progress is shown: per job, at most one render per interval, the
 * latest state always lands, and a view that looks the same as the one on screen is not sent again.
 * The sink only draws (Discord embed, Slack blocks) and sends.
 */

/** A platform's way to show a job's status (edit a Discord message, `chat.update` a Slack one). */
export interface StatusSink {
  /**
   * Shows the view. True when it is on screen or on its way (a sink that paces its sends keeps the
   * latest view of each message and sends it in turn), or never can be (the message is gone); false
   * when it was skipped for now (the channel is saturated), so the same view is tried again later.
   */
  show(snapshot: JobSnapshot, view: StatusView): Promise<boolean>;
}

export interface BotStatusTrackerOptions {
  prefix: string;
  platform: string;
  /** Least time between two renders of one job: Discord and Slack both punish fast edits. */
  minIntervalMs?: number;
}

/**
 * Keeps every in-flight job of one platform on screen: listens to queue events from any worker,
 * builds a snapshot (state, queue position, progress), renders it with the platform-neutral status
 * text and hands it to the sink, coalesced per job. The set of tracked jobs lives in Redis, so a
 * restarted bot picks up where it left off.
 */
export class BotStatusTracker {
  private readonly events: QueueEvents;
  private readonly key: string;
  private readonly minIntervalMs: number;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly lastRender = new Map<string, number>();
  private readonly running = new Map<string, Promise<void>>();
  /** What each job's status message shows, as a fingerprint: an unchanged view is not sent again. */
  private readonly shown = new Map<string, string>();
  private closed = false;
  private closing?: Promise<void>;
  private positionsCache?: { at: number; value: Promise<Map<string, { position: number; of: number }>> };
  /** One pending refresh of every waiting job's position, however many moves of the line it covers. */
  private positionBatch?: NodeJS.Timeout;
  private lastPositionBatch = 0;
  private readonly groups: JobGroups;

  constructor(
    private readonly connection: Redis,
    private readonly queue: GenerationQueue,
    private readonly sink: StatusSink,
    private readonly log: Logger,
    options: BotStatusTrackerOptions,
  ) {
    this.key = `${options.prefix}:tracked:${options.platform}`;
    this.minIntervalMs = options.minIntervalMs ?? 5_000;
    this.groups = new JobGroups(connection, options.prefix);
    this.events = new QueueEvents(GENERATE_QUEUE, {
      connection: connection.duplicate(),
      prefix: options.prefix,
    });
  }

  async start(): Promise<void> {
    const onJob = ({ jobId }: { jobId: string }) => void this.onJobEvent(jobId);
    this.events.on('progress', onJob);
    this.events.on('active', (event) => {
      void this.onJobEvent(event.jobId);
      // Someone left the line: everyone behind moved up.
      this.refreshWaiting();
    });
    this.events.on('removed', () => this.refreshWaiting());
    this.events.on('retries-exhausted', onJob);
    this.events.on('delayed', onJob);
    this.events.on('waiting', () => this.refreshWaiting());
    await this.events.waitUntilReady();
    for (const jobId of await this.tracked()) this.schedule(jobId);
  }

  /**
   * `posted` is what a freshly posted status message already shows: it counts as the job's last
   * render, so the next one waits the interval (a job shorter than that costs no progress edit).
   */
  async track(jobId: string, posted?: StatusView): Promise<void> {
    if (posted) {
      this.shown.set(jobId, statusFingerprint(posted));
      this.lastRender.set(jobId, Date.now());
    }
    await this.connection.sadd(this.key, jobId);
    this.schedule(jobId, !posted);
  }

  async untrack(jobId: string): Promise<void> {
    clearTimeout(this.timers.get(jobId));
    this.timers.delete(jobId);
    this.lastRender.delete(jobId);
    this.shown.delete(jobId);
    await this.connection.srem(this.key, jobId);
  }

  async tracked(): Promise<string[]> {
    return this.connection.smembers(this.key);
  }

  /** Draws a tracked job again soon (a group whose member just finished). */
  async refresh(jobId: string): Promise<void> {
    if (await this.connection.sismember(this.key, jobId)) this.schedule(jobId);
  }

  /** A variant's events redraw its group's one status message (tracked under the lead's id). */
  private async onJobEvent(jobId: string) {
    await this.refresh(leadOf(jobId));
  }

  /**
   * The line moved: every waiting job's position is drawn again, in batches. A burst of jobs
   * starting or arriving makes one batch (at once, then at most one per interval), with one read of
   * the wait list, and only the waiting jobs are drawn: a running job's view has no position.
   */
  private refreshWaiting() {
    // Positions read before the move are stale, for any render from now on.
    this.positionsCache = undefined;
    if (this.closed || this.positionBatch) return;
    const movedAt = Date.now();
    const delay = Math.max(0, this.minIntervalMs - (movedAt - this.lastPositionBatch));
    const timer = setTimeout(() => {
      this.positionBatch = undefined;
      this.lastPositionBatch = Date.now();
      void this.redrawWaiting(movedAt).catch((error) =>
        this.log.warn({ err: error }, 'could not refresh the queue positions'),
      );
    }, delay);
    timer.unref();
    this.positionBatch = timer;
  }

  /** Draws the waiting jobs again, except those drawn since the line moved (they show it already). */
  private async redrawWaiting(movedAt: number) {
    const waiting = await this.positions();
    for (const jobId of await this.tracked()) {
      if (waiting.has(jobId) && (this.lastRender.get(jobId) ?? 0) < movedAt) this.schedule(jobId);
    }
  }

  /** At most one render per interval per job; the latest state always lands. */
  private schedule(jobId: string, now = false) {
    if (this.closed || this.timers.has(jobId)) return;
    const since = Date.now() - (this.lastRender.get(jobId) ?? 0);
    const delay = now ? 0 : Math.max(0, this.minIntervalMs - since);
    const timer = setTimeout(() => {
      this.timers.delete(jobId);
      const previous = this.running.get(jobId) ?? Promise.resolve();
      const next = previous.then(() => this.render(jobId));
      this.running.set(jobId, next);
    }, delay);
    timer.unref();
    this.timers.set(jobId, timer);
  }

  private async render(jobId: string) {
    if (this.closed) return;
    this.lastRender.set(jobId, Date.now());
    try {
      const snapshot = await this.snapshot(jobId);
      // Finished jobs are drawn by the delivery, which has the outcome: no more renders of them
      // (a job may finish before its first status was even on screen, and be tracked after that).
      if (!snapshot) {
        if (await this.finished(jobId)) await this.untrack(jobId);
        return;
      }
      const view = renderStatus(snapshot);
      const fingerprint = statusFingerprint(view);
      if (this.shown.get(jobId) === fingerprint) return;
      if (await this.sink.show(snapshot, view)) this.shown.set(jobId, fingerprint);
      // Skipped in a saturated channel: offered again after the interval, or the job would keep
      // showing a stale place in line (or "Queued" while it is held) until its next event.
      else this.schedule(jobId);
    } catch (error) {
      this.log.warn({ err: error, jobId }, 'could not update the status message');
    }
  }

  private async finished(jobId: string): Promise<boolean> {
    const group = await this.groups.state(jobId);
    if (group) return groupComplete(group);
    const job = await this.queue.queue.getJob(jobId);
    if (!job) return true;
    const state = await job.getState();
    return state === 'completed' || state === 'failed' || state === 'unknown';
  }

  async snapshot(jobId: string): Promise<JobSnapshot | undefined> {
    const members = await this.groups.members(jobId);
    return members ? this.groupSnapshot(jobId) : this.jobSnapshot(jobId);
  }

  /**
   * A group of variants as one snapshot of its lead: every member's state, from its job while it
   * is in flight and from its recorded outcome after. Undefined once every member has an outcome:
   * the delivery that completes the group draws it.
   */
  private async groupSnapshot(lead: string): Promise<JobSnapshot | undefined> {
    const group = await this.groups.state(lead);
    if (!group || groupComplete(group)) return undefined;
    const variants: VariantState[] = [];
    let first: JobSnapshot | undefined;
    let base: Pick<GenerationJobData, 'request' | 'requester'> | undefined;
    for (const [i, id] of group.members.entries()) {
      const outcome = group.outcomes.get(id);
      if (outcome) {
        base ??= outcome;
        variants.push({ index: i + 1, seed: outcome.request.seed, state: outcome.outcome.kind });
        continue;
      }
      const snapshot = await this.jobSnapshot(id);
      first ??= snapshot;
      const job = snapshot ? undefined : await this.queue.queue.getJob(id);
      base ??= job?.data;
      const seed = snapshot?.request.seed ?? job?.data.request.seed ?? 0;
      // Finished but not delivered yet: as good as done, for the bar.
      variants.push(
        snapshot
          ? { index: i + 1, seed, state: snapshot.state, percent: snapshot.progress?.percent }
          : { index: i + 1, seed, state: 'active', percent: 100 },
      );
    }
    const request = first?.request ?? base?.request;
    if (!request) return undefined;
    const active = variants.some((variant) => variant.state !== 'waiting');
    return {
      jobId: lead,
      state: active ? 'active' : 'waiting',
      request,
      requesterName: first?.requesterName ?? base?.requester.displayName,
      variants,
    };
  }

  private async jobSnapshot(jobId: string): Promise<JobSnapshot | undefined> {
    const job = await this.queue.queue.getJob(jobId);
    if (!job) return undefined;
    const state = await job.getState();
    const base = {
      jobId,
      request: job.data.request,
      requesterName: job.data.requester.displayName,
      notes: job.data.notes,
      ...(job.data.fairShare?.band === 'relax' ? { relaxed: true } : {}),
      ...(job.data.held ? { held: job.data.held } : {}),
    };
    const progress =
      job.progress && typeof job.progress === 'object' ? (job.progress as unknown as JobProgress) : undefined;
    switch (state) {
      case 'waiting':
      case 'prioritized':
        return { ...base, state: 'waiting', position: (await this.positions()).get(jobId) };
      case 'delayed':
        // Held back by a worker (caps, a paused server) is waiting, not a retry, whatever came before.
        return { ...base, state: job.attemptsMade > 0 && !job.data.held ? 'retrying' : 'waiting' };
      case 'active':
        return { ...base, state: 'active', progress };
      default:
        return undefined;
    }
  }

  /**
   * Positions of all waiting jobs, read once per queue move (and at most four times a second
   * otherwise): one move re-renders every waiting job, and reading the whole wait list for each of
   * them would be quadratic.
   */
  private positions() {
    const now = Date.now();
    if (!this.positionsCache || now - this.positionsCache.at > 250) {
      this.positionsCache = { at: now, value: this.queue.positions() };
    }
    return this.positionsCache.value;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      for (const timer of this.timers.values()) clearTimeout(timer);
      clearTimeout(this.positionBatch);
      await Promise.allSettled(this.running.values());
      await this.events.close();
    })();
    return this.closing;
  }
}
