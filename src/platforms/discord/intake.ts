import type { MessageCreateOptions, PermissionsBitField } from 'discord.js';
import type { ReportTarget } from '../../core/job.js';
import { type GenerationSettings, parseKeyValues, parseSettings } from '../../core/request.js';
import type { Origin } from '../../service/checks.js';
import type { Submitted } from '../../service/generation-service.js';
import type { ImageSource } from '../../service/input-images.js';
import { submitAndPost } from '../shared/submission.js';
import type { DiscordContext } from './context.js';
import { channelFacts, placeOf, roleIdsOf } from './guards.js';
import { explain, fixList, refusalText } from './refusals.js';
import { messageLink, statusPayload } from './render.js';

export interface AttachmentLike {
  url: string;
  name: string;
  size: number;
  contentType: string | null;
}

export interface SendableChannel {
  id: string;
  send(options: MessageCreateOptions): Promise<{ id: string }>;
  /** discord.js's channel has these; read for moderation (age-restricted) and for naming the server. */
  nsfw?: boolean;
  guild?: { name: string } | null;
}

export interface AnimateInput {
  /** Derived from the interaction, so the same event never enqueues twice. */
  jobId: string;
  options: Record<string, unknown>;
  advanced?: string | null;
  image: AttachmentLike | null;
  endImage?: AttachmentLike | null;
  user: { id: string; displayName: string };
  member: unknown;
  guildId: string | null;
  channel: SendableChannel;
  appPermissions?: Readonly<PermissionsBitField> | null;
  /** The interaction's attachment_size_limit, or the guild tier's. */
  uploadLimit: number;
}

export type AnimateAnswer = { ok: true; text: string; jobId: string } | { ok: false; text: string };

/** Reads settings from typed options plus the `advanced` key=value text; typed options win. */
export function settingsFrom(options: Record<string, unknown>, advanced?: string | null) {
  const errors: string[] = [];
  let raw: Record<string, unknown> = {};
  if (advanced?.trim()) {
    const pairs = parseKeyValues(advanced);
    if (pairs.ok) raw = { ...pairs.value };
    else errors.push(...pairs.errors.map((error) => `advanced: ${error}`));
  }
  for (const [key, value] of Object.entries(options))
    if (value !== null && value !== undefined) raw[key] = value;
  const parsed = parseSettings(raw);
  if (!parsed.ok) errors.push(...parsed.errors);
  return errors.length > 0 || !parsed.ok
    ? { ok: false as const, errors }
    : { ok: true as const, value: parsed.value };
}

/** The name people see for the member (server nickname first), for status lines and cancel notes. */
export function userOf(interaction: { user: { id: string; displayName: string }; member: unknown }) {
  const member = interaction.member as { displayName?: unknown } | null;
  return {
    id: interaction.user.id,
    displayName:
      member && typeof member.displayName === 'string' ? member.displayName : interaction.user.displayName,
  };
}

/** Who asks and from where, for the service's checks. */
export function originOf(
  context: DiscordContext,
  input: {
    user: { id: string; displayName: string };
    guildId: string | null;
    channelId: string;
    roleIds: string[];
    appPermissions?: Readonly<PermissionsBitField> | null;
    /** The channel object, for its age restriction and its server's name. */
    channel?: unknown;
  },
): Origin {
  return {
    requester: {
      platform: 'discord',
      userId: input.user.id,
      displayName: input.user.displayName,
      scopeId: input.guildId ?? 'dm',
    },
    place: placeOf({ ...input, ...channelFacts(input.channel) }),
    access: context.access,
  };
}

function reportTarget(input: {
  guildId: string | null;
  channelId: string;
  uploadLimit: number;
}): ReportTarget {
  return {
    platform: 'discord',
    guildId: input.guildId ?? undefined,
    channelId: input.channelId,
    uploadLimit: input.uploadLimit,
  };
}

/**
 * Submits (or reruns) through the service, then posts the status message in the channel with the
 * bot token, so progress outlives the interaction token. Returns what to tell the user.
 */
export async function submitAndAnswer(
  context: DiscordContext,
  submit: (reportTo: ReportTarget) => Promise<Submitted>,
  where: { channel: SendableChannel; guildId: string | null; uploadLimit: number; requesterName: string },
): Promise<AnimateAnswer> {
  const { channel, guildId } = where;
  const reportTo = reportTarget({ guildId, channelId: channel.id, uploadLimit: where.uploadLimit });
  const result = await submitAndPost(context.service, context.feed, {
    submit: () => submit(reportTo),
    explain: (error) => explain(context, error),
    post: async (submitted, position) => {
      const { view, payload } = statusPayload({
        jobId: submitted.jobId,
        state: 'waiting',
        request: submitted.request,
        requesterName: where.requesterName,
        position,
      });
      const message = await channel.send(payload);
      await context.messages.setStatus(submitted.jobId, {
        channelId: channel.id,
        messageId: message.id,
        postedAt: Date.now(),
      });
      return { view, messageId: message.id };
    },
  });
  if (!result.ok) return result;
  const { submitted } = result;
  if (result.duplicate) {
    const existing = await context.messages.status(submitted.jobId);
    return {
      ok: true,
      jobId: submitted.jobId,
      text: existing
        ? `Already queued: ${messageLink(guildId ?? undefined, existing.channelId, existing.messageId)}`
        : 'Already queued.',
    };
  }
  const { position } = result;
  return {
    ok: true,
    jobId: submitted.jobId,
    text: `Queued${position ? ` (#${position.position})` : ''}: ${messageLink(guildId ?? undefined, channel.id, result.posted.messageId)} · seed ${submitted.request.seed}${submitted.notice ? `\n${submitted.notice}` : ''}`,
  };
}

const discordImage = (context: DiscordContext, attachment: AttachmentLike): ImageSource => ({
  url: attachment.url,
  filename: attachment.name,
  allowedHosts: context.cdnHosts,
  declared: { bytes: attachment.size, contentType: attachment.contentType },
});

/**
 * The whole of `/animate` after the acknowledgement: who and where first (before anything is
 * parsed), then the options; the service does the rest (checks, image, queue).
 */
export async function animate(context: DiscordContext, input: AnimateInput): Promise<AnimateAnswer> {
  const origin = originOf(context, {
    user: input.user,
    guildId: input.guildId,
    channelId: input.channel.id,
    roleIds: roleIdsOf(input.member as never),
    appPermissions: input.appPermissions,
    channel: input.channel,
  });
  const refused = await context.service.refusal(origin);
  if (refused) return { ok: false, text: refusalText(refused) };
  const settings = settingsFrom(input.options, input.advanced);
  if (!settings.ok) return { ok: false, text: fixList(settings.errors) };
  const { image, endImage } = input;
  if (!image) return { ok: false, text: 'Attach an image to animate (PNG, JPEG or WebP).' };
  return submitAndAnswer(
    context,
    (reportTo) =>
      context.service.submit({
        jobId: input.jobId,
        settings: settings.value as GenerationSettings,
        images: {
          input_image: discordImage(context, image),
          ...(endImage ? { end_frame: discordImage(context, endImage) } : {}),
        },
        origin,
        reportTo,
      }),
    { ...input, requesterName: input.user.displayName },
  );
}
