import type { PermissionsBitField, SendableChannels } from 'discord.js';
import { CANCEL_ANSWER } from '../../core/status-text.js';
import { DISCORD_DELIVERY_QUEUE, type DiscordContext } from './context.js';
import { refusal } from './guards.js';
import { type AnimateAnswer, afterSubmit, discordRequester, explain, reportTarget } from './intake.js';

export interface RerunInput {
  parentJobId: string;
  /** From the click or reaction, so one event starts at most one job. */
  jobId: string;
  user: { id: string; displayName: string };
  guildId: string | null;
  channel: SendableChannels;
  uploadLimit: number;
  /** For the same allowlist checks as /animate: a rerun is a new paid job. */
  roleIds: string[];
  appPermissions?: Readonly<PermissionsBitField> | null;
}

/** Reruns a job with a new seed (same image, prompt and settings) and posts its status message. */
export async function rerun(context: DiscordContext, input: RerunInput): Promise<AnimateAnswer> {
  const refused = refusal(context.config, {
    guildId: input.guildId,
    channelId: input.channel.id,
    roleIds: input.roleIds,
    appPermissions: input.appPermissions,
  });
  if (refused) return { ok: false, text: refused };
  try {
    const submitted = await context.service.rerun(input.parentJobId, {
      jobId: input.jobId,
      requester: discordRequester(input.user, input.guildId),
      reportTo: reportTarget({
        guildId: input.guildId,
        channelId: input.channel.id,
        uploadLimit: input.uploadLimit,
      }),
      deliverVia: DISCORD_DELIVERY_QUEUE,
    });
    return await afterSubmit(context, submitted, input.channel, input.guildId, input.user.displayName);
  } catch (error) {
    return { ok: false, text: explain(context, error) };
  }
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
