import type { DeliveryJobData } from '../../core/job.js';
import type { JobSnapshot, VariantState } from '../../core/status-text.js';
import type { Logger } from '../../log.js';
import { type DeliveryDone, groupComplete, type PlatformFeed } from '../../service/platform-feed.js';
import type { OutcomePoster } from './outcome-poster.js';

/**
 * The outcome of one video of a `variants` group. Each is recorded with its group (in Redis) and
 * its video kept; the group's status message is redrawn ("2 of 4 done"). The delivery that
 * completes the group (every video has an outcome; cancelled ones count) posts the finished videos
 * together in one message, draws the final status, and tells the requester about withheld ones.
 * Only one delivery posts (a claim that expires); a failed post is retried by its queue.
 */
export async function deliverVariant<Where, Posted>(
  poster: OutcomePoster<Where, Posted>,
  feed: PlatformFeed,
  log: Logger,
  delivery: DeliveryJobData,
): Promise<DeliveryDone> {
  const lead = delivery.group!.lead;
  const group = await feed.recordVariant(delivery);
  if (!group || !groupComplete(group)) {
    await feed.refresh(lead);
    return { videoKeys: [] };
  }
  if (!(await feed.claimGroup(lead, delivery.jobId))) return { videoKeys: [] };
  const deliveries = group.members.map((id) => group.outcomes.get(id)!);
  const videos = deliveries.filter((one) => one.outcome.kind === 'succeeded');
  const videoKeys = videos.flatMap((one) =>
    one.outcome.kind === 'succeeded' ? [one.outcome.result.videoKey] : [],
  );
  const first = deliveries[0]!;
  try {
    const where = await poster.where(first);
    if (where === undefined) {
      await feed.untrack(lead);
      return { videoKeys };
    }
    const snapshot = groupSnapshot(first, deliveries);
    if (videos.length > 0) {
      const posted =
        (await poster.delivered(lead)) ?? (await poster.postGroup(first, videos, where, snapshot));
      await poster
        .finishStatus(first, snapshot, where, posted)
        .catch((error) => log.warn({ err: error, jobId: lead }, 'could not mark the group status done'));
    } else if (!(await poster.finishStatus(first, snapshot, where))) {
      await poster.postOutcome(first, snapshot, where);
    }
    for (const one of deliveries) {
      if (one.outcome.kind === 'withheld') await poster.tellRequester(one, one.outcome.notice, where);
    }
  } catch (error) {
    await feed.releaseGroup(lead);
    throw error;
  }
  await feed.untrack(lead);
  return { videoKeys };
}

/** The group's final status: each video's outcome. */
function groupSnapshot(first: DeliveryJobData, deliveries: DeliveryJobData[]): JobSnapshot {
  const variants: VariantState[] = deliveries.map((one, i) => ({
    index: i + 1,
    seed: one.request.seed,
    state: one.outcome.kind,
  }));
  const succeeded = variants.some((variant) => variant.state === 'succeeded');
  return {
    jobId: first.group?.lead ?? first.jobId,
    state: succeeded ? 'succeeded' : (variants[0]?.state ?? 'failed'),
    request: first.request,
    requesterName: first.requester.displayName,
    variants,
  };
}
