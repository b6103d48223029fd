import type { Job } from 'bullmq';
import type { Cost, GenerationJobData, HoldReason } from '../core/job.js';

/** Start the job now, or put it back for a while (its person is at their rendering cap, its server paused). */
export type Admission = { run: true } | { run: false; held: HoldReason; retryInMs: number };

/**
 * What a community's rules ask of the worker, as an interface the service implements
 * (service/worker-policy.ts), so the queue knows no service: who may start, what counts against
 * quotas, what a video costs, and whether a result may be posted. A worker without a policy (the
 * CLI) runs every job as it comes.
 */
export interface WorkerPolicy {
  /**
   * Before a job starts. A job put back keeps its fair turn (its priority) and is promoted again by
   * `release` of its person's running job or by `resumed` of its server, or when `retryInMs` ends.
   */
  admit(job: Job<GenerationJobData>): Promise<Admission>;
  /**
   * The job the policy held back is in the delayed set now: remember it for promotion, and promote
   * it at once if what held it went away meanwhile (a slot freed between the check and the move).
   */
  parked(job: Job<GenerationJobData>, held: HoldReason): Promise<void>;
  /** The job no longer renders here (finished, failed, cancelled, handed back): its slot is free. */
  release(job: Job<GenerationJobData>): Promise<void>;
  /** The backend has (or may have) a paid task for the job: it counts against quotas, and its cost is spent. */
  submitted(jobId: string, data: GenerationJobData): Promise<void>;
  /** The estimate shown with the result (PRICE_TABLE); undefined without a price. */
  cost(data: GenerationJobData): Cost | undefined;
  /**
   * The prepared video on disk, before anything is stored or posted: a notice for the requester
   * alone when it must not be posted (moderation), else nothing.
   */
  inspect(jobId: string, data: GenerationJobData, videoPath: string): Promise<{ withhold?: string }>;
}
