import { UserFacingError } from '../../core/errors.js';
import { CANCEL_ANSWER } from '../../core/status-text.js';
import { SLACK_DELIVERY_QUEUE, type SlackContext } from './context.js';
import { afterSubmit, explain, type Place, reportTarget, requesterOf, type StartAnswer } from './intake.js';
import type { SlackStatusSink } from './reporter.js';

export interface RerunInput {
  parentJobId: string;
  /** From the click or the reaction event, so one event starts at most one job. */
  jobId: string;
  user: { id: string; displayName?: string };
}

/**
 * Reruns a job with a new seed (same stored image, prompt and settings) where the parent was
 * reported. service.rerun links the parent and folds double clicks into one job.
 */
export async function rerunJob(
  context: SlackContext,
  sink: SlackStatusSink,
  input: RerunInput,
): Promise<StartAnswer> {
  try {
    const parent = await context.service.record(input.parentJobId);
    if (parent?.reportTo.platform !== 'slack') {
      throw new UserFacingError(
        'that video is too old to rerun (its settings have expired); start a new /animate',
      );
    }
    const place: Place = {
      channel: String(parent.reportTo.channel),
      ...(parent.reportTo.threadTs ? { threadTs: String(parent.reportTo.threadTs) } : {}),
    };
    const displayName = input.user.displayName ?? (await context.users.displayName(input.user.id));
    const requester = requesterOf(context, input.user.id, displayName);
    const submitted = await context.service.rerun(input.parentJobId, {
      jobId: input.jobId,
      requester,
      reportTo: reportTarget(context, place),
      deliverVia: SLACK_DELIVERY_QUEUE,
    });
    return await afterSubmit(context, sink, submitted, place, requester);
  } catch (error) {
    return { ok: false, text: explain(context, error) };
  }
}

/** Only the requester or a workspace admin/owner (users.info is_admin / is_owner) may cancel. */
export async function cancelJob(
  context: SlackContext,
  jobId: string,
  userId: string,
): Promise<{ ok: boolean; text: string }> {
  try {
    const record = await context.service.record(jobId);
    const canModerate =
      record !== undefined && record.requester.userId !== userId
        ? await context.users.canModerate(userId)
        : false;
    const result = await context.service.cancel(jobId, {
      userId,
      displayName: await context.users.displayName(userId),
      canModerate,
    });
    return { ok: result === 'removed' || result === 'signalled', text: CANCEL_ANSWER[result] };
  } catch (error) {
    if (error instanceof UserFacingError && /only the person who asked/.test(error.message)) {
      return {
        ok: false,
        text: 'Only the person who asked for this video (or a workspace admin) can cancel it.',
      };
    }
    return { ok: false, text: explain(context, error) };
  }
}
