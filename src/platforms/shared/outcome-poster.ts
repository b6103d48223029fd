import type { DeliveryJobData } from '../../core/job.js';
import type { JobSnapshot } from '../../core/status-text.js';

/** How one platform posts a finished job; `Where` is its channel (and thread), `Posted` its result. */
export interface OutcomePoster<Where, Posted> {
  /** Where the outcome goes, or undefined when it can never be posted there (given up, not retried). */
  where(delivery: DeliveryJobData): Promise<Where | undefined>;
  /** The result an earlier attempt already posted: a retried delivery never posts twice. */
  delivered(jobId: string): Promise<Posted | undefined>;
  postVideo(delivery: DeliveryJobData, where: Where): Promise<Posted>;
  /** Draws the final state on the status message; false when there is no message to edit. */
  finishStatus(
    delivery: DeliveryJobData,
    snapshot: JobSnapshot,
    where: Where,
    posted?: Posted,
  ): Promise<boolean>;
  /** Says why there is no video in a new message, when the status message could not say it. */
  postOutcome(delivery: DeliveryJobData, snapshot: JobSnapshot, where: Where): Promise<void>;
  /** Tells the requester alone (a withheld result: why it was not posted). */
  tellRequester(delivery: DeliveryJobData, text: string, where: Where): Promise<void>;
  /**
   * A group's videos in one message (each with its own buttons), into its status message like
   * `postVideo`; `lead` is the group's first delivery, whose status message it is.
   */
  postGroup(
    lead: DeliveryJobData,
    videos: DeliveryJobData[],
    where: Where,
    snapshot: JobSnapshot,
  ): Promise<Posted>;
}
