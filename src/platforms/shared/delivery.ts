import type { DeliveryJobData } from '../../core/job.js';
import { outcomeSnapshot } from '../../core/status-text.js';
import type { Logger } from '../../log.js';
import type { DeliveryDone, PlatformFeed } from '../../service/platform-feed.js';
import type { OutcomePoster } from './outcome-poster.js';
import { deliverVariant } from './variant-delivery.js';

export type { OutcomePoster } from './outcome-poster.js';

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
