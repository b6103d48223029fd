import type { PermissionsBitField } from 'discord.js';
import { CANCEL_ANSWER } from '../../core/status-text.js';
import type { DiscordContext } from './context.js';
import { type AnimateAnswer, type JobPlace, originOf, submitAndAnswer } from './intake.js';
import { explain } from './refusals.js';

export interface RerunInput {
  parentJobId: string;
  user: { id: string; displayName: string };
  /** For the same access checks as /animate: a rerun is a new paid job. */
  roleIds: string[];
  appPermissions?: Readonly<PermissionsBitField> | null;
  /** The channel object, for its age restriction and its server's name. */
  channel?: unknown;
  /** 🎲 on a group's message reruns the whole group; a button reruns its one video. */
  wholeGroup?: boolean;
}

/** Who reruns from where, for the checks (the access ones need no I/O, so they run before the ack). */
export function rerunOrigin(
  context: DiscordContext,
  input: RerunInput,
  place: Pick<JobPlace, 'guildId' | 'channelId'>,
) {
  return originOf(context, { ...input, ...place });
}

/** Reruns a job with a new seed (same image, prompt and settings) and shows its status message. */
export function rerun(context: DiscordContext, input: RerunInput, place: JobPlace): Promise<AnimateAnswer> {
  const origin = rerunOrigin(context, input, place);
  return submitAndAnswer(
    context,
    (reportTo) =>
      context.service.rerun(input.parentJobId, {
        jobId: place.jobId,
        origin,
        reportTo,
        ...(input.wholeGroup ? { wholeGroup: true } : {}),
      }),
    place,
  );
}

export interface CancelInput {
  jobId: string;
  user: { id: string; displayName: string };
  canModerate: boolean;
}

export async function cancel(
  context: DiscordContext,
  input: CancelInput,
): Promise<{ ok: boolean; text: string }> {
  try {
    const result = await context.service.cancel(input.jobId, {
      userId: input.user.id,
      displayName: input.user.displayName,
      canModerate: input.canModerate,
    });
    return { ok: result === 'removed' || result === 'signalled', text: CANCEL_ANSWER[result] };
  } catch (error) {
    return { ok: false, text: explain(context, error) };
  }
}
