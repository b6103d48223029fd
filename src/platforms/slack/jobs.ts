import { UserFacingError } from '../../core/errors.js';
import type { GenerationSettings } from '../../core/request.js';
import { CANCEL_ANSWER } from '../../core/status-text.js';
import type { SlackContext } from './context.js';
import { originOf, type Place, reportTarget, type StartAnswer, submitAndAnswer } from './intake.js';
import { explain } from './refusals.js';

export interface RerunInput {
  parentJobId: string;
  /** From the click or the reaction event, so one event starts at most one job. */
  jobId: string;
  user: { id: string; displayName?: string };
  /** Edited settings from the Remix form: a remix instead of a rerun. */
  settings?: GenerationSettings;
  /** 🎲 on a group's message reruns the whole group; a button reruns its one video. */
  wholeGroup?: boolean;
}

/**
 * Reruns a job with a new seed (same stored image, prompt and settings) where the parent was
 * reported. service.rerun links the parent and folds double clicks into one job.
 */
export async function rerunJob(context: SlackContext, input: RerunInput): Promise<StartAnswer> {
  let place: Place;
  try {
    const parent = await context.service.record(input.parentJobId);
    if (parent?.reportTo.platform !== 'slack') {
      throw new UserFacingError(
        'that video is too old to rerun (its settings have expired); start a new /animate',
      );
    }
    place = {
      channel: String(parent.reportTo.channel),
      ...(parent.reportTo.threadTs ? { threadTs: String(parent.reportTo.threadTs) } : {}),
    };
  } catch (error) {
    return { ok: false, text: explain(context, error) };
  }
  const displayName = input.user.displayName ?? (await context.users.displayName(input.user.id));
  const origin = originOf(context, input.user.id, place.channel, displayName);
  const derived = { jobId: input.jobId, origin, reportTo: reportTarget(context, place) };
  return submitAndAnswer(
    context,
    () =>
      input.settings
        ? context.service.remix(input.parentJobId, { ...derived, settings: input.settings })
        : context.service.rerun(input.parentJobId, {
            ...derived,
            ...(input.wholeGroup ? { wholeGroup: true } : {}),
          }),
    place,
    origin,
  );
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
    return { ok: false, text: explain(context, error) };
  }
}
