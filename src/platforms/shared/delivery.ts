import type { DeliveryJobData } from '../../core/job.js';
import { type JobSnapshot, outcomeSnapshot } from '../../core/status-text.js';
import type { Logger } from '../../log.js';
import type { DeliveryDone, PlatformFeed } from '../../service/platform-feed.js';
import { deliverVariant } from './variant-delivery.js';

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

/**
 * One outcome, the same way on every platform: the video (once), then the final status; for a
 * failed or cancelled job, the final status (or a new message when that cannot be edited); for a
 * withheld one, the final status and a private word to the requester, never a new public post. A throw
 * leaves the delivery to be retried by its queue; tracking ends only once it is done.
 */
export async function deliverOutcome<Where, Posted>(
  poster: OutcomePoster<Where, Posted>,
  feed: PlatformFeed,
  log: Logger,
  delivery: DeliveryJobData,
): Promise<DeliveryDone | undefined> {
  if (delivery.group) return deliverVariant(poster, feed, log, delivery);
  const { jobId, outcome } = delivery;
  const where = await poster.where(delivery);
  if (where === undefined) {
    await feed.untrack(jobId);
    return undefined;
  }
  const snapshot = outcomeSnapshot(delivery);
  if (outcome.kind === 'withheld') {
    // Nothing public but the status saying it will not be posted; the reason goes to the requester.
    await poster.finishStatus(delivery, snapshot, where);
    await poster.tellRequester(delivery, outcome.notice, where);
  } else if (outcome.kind === 'succeeded') {
    const posted = (await poster.delivered(jobId)) ?? (await poster.postVideo(delivery, where));
    // The video is out: a status edit that fails now must not post it again.
    await poster
      .finishStatus(delivery, snapshot, where, posted)
      .catch((error) => log.warn({ err: error, jobId }, 'could not mark the status done'));
  } else if (!(await poster.finishStatus(delivery, snapshot, where))) {
    await poster.postOutcome(delivery, snapshot, where);
  }
  await feed.untrack(jobId);
  return undefined;
}
