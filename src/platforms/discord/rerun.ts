import type { PermissionsBitField, SendableChannels } from 'discord.js';
import { CANCEL_ANSWER } from '../../core/status-text.js';
import type { DiscordContext } from './context.js';
import { type AnimateAnswer, originOf, submitAndAnswer } from './intake.js';
import { explain } from './refusals.js';

export interface RerunInput {
  parentJobId: string;
  /** From the click or reaction, so one event starts at most one job. */
  jobId: string;
  user: { id: string; displayName: string };
  guildId: string | null;
  channel: SendableChannels;
  uploadLimit: number;
  /** For the same access checks as /animate: a rerun is a new paid job. */
  roleIds: string[];
  appPermissions?: Readonly<PermissionsBitField> | null;
}

/** Reruns a job with a new seed (same image, prompt and settings) and posts its status message. */
export function rerun(context: DiscordContext, input: RerunInput): Promise<AnimateAnswer> {
  const origin = originOf(context, { ...input, channelId: input.channel.id, channel: input.channel });
  return submitAndAnswer(
    context,
    (reportTo) => context.service.rerun(input.parentJobId, { jobId: input.jobId, origin, reportTo }),
    { ...input, requesterName: input.user.displayName },
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
