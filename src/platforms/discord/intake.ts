import type { MessageCreateOptions, PermissionsBitField } from 'discord.js';
import { UserFacingError } from '../../core/errors.js';
import type { ReportTarget } from '../../core/job.js';
import {
  type GenerationSettings,
  parseKeyValues,
  parseSettings,
  type StoredImage,
} from '../../core/request.js';
import type { JobSnapshot } from '../../core/status-text.js';
import { fetchBounded } from '../../media/fetch.js';
import { validateImage } from '../../media/image.js';
import type { Submitted } from '../../service/generation-service.js';
import { DISCORD_DELIVERY_QUEUE, type DiscordContext } from './context.js';
import { refusal, roleIdsOf } from './guards.js';
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

const MiB = 1024 * 1024;

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

async function storeAttachment(
  context: DiscordContext,
  attachment: AttachmentLike,
  label: string,
): Promise<StoredImage> {
  const max = context.config.MAX_INPUT_BYTES;
  if (attachment.size > max) {
    throw new UserFacingError(
      `the ${label} is ${(attachment.size / MiB).toFixed(1)} MiB; the limit is ${Math.floor(max / MiB)} MiB`,
    );
  }
  if (attachment.contentType && !attachment.contentType.startsWith('image/')) {
    throw new UserFacingError(
      `the ${label} "${attachment.name}" is not an image (${attachment.contentType}); attach a PNG, JPEG or WebP`,
    );
  }
  const { bytes } = await fetchBounded(attachment.url, {
    allowedHosts: context.cdnHosts,
    maxBytes: max,
    timeoutMs: 30_000,
    label: `the ${label}`,
  });
  const image = await validateImage(bytes, { filename: attachment.name, maxBytes: max });
  return context.service.pipeline.inputs.save(image);
}

/** Posts a job's status message with the bot token, so progress outlives the interaction token. */
export async function postStatus(
  context: DiscordContext,
  channel: SendableChannel,
  snapshot: JobSnapshot,
): Promise<{ id: string }> {
  const message = await channel.send(statusPayload(snapshot).payload);
  await context.messages.setStatus(snapshot.jobId, {
    channelId: channel.id,
    messageId: message.id,
    postedAt: Date.now(),
  });
  await context.tracker.track(snapshot.jobId);
  return message;
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

export function discordRequester(user: { id: string; displayName: string }, guildId: string | null) {
  return { platform: 'discord', userId: user.id, displayName: user.displayName, scopeId: guildId ?? 'dm' };
}

export function reportTarget(input: {
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

export async function afterSubmit(
  context: DiscordContext,
  submitted: Submitted,
  channel: SendableChannel,
  guildId: string | null,
  requesterName: string,
): Promise<AnimateAnswer> {
  if (submitted.duplicate) {
    const existing = await context.messages.status(submitted.jobId);
    return {
      ok: true,
      jobId: submitted.jobId,
      text: existing
        ? `Already queued: ${messageLink(guildId ?? undefined, existing.channelId, existing.messageId)}`
        : 'Already queued.',
    };
  }
  const position = await context.service.pipeline.queue.position(submitted.jobId);
  let message: { id: string };
  try {
    message = await postStatus(context, channel, {
      jobId: submitted.jobId,
      state: 'waiting',
      request: submitted.request,
      requesterName,
      position,
    });
  } catch (error) {
    // A job nobody can follow or cancel is worse than none: take it back, then say so.
    await context.service.pipeline.cancel({ jobId: submitted.jobId, by: 'Kinema' }).catch(() => undefined);
    await context.tracker.untrack(submitted.jobId).catch(() => undefined);
    throw error;
  }
  return {
    ok: true,
    jobId: submitted.jobId,
    text: `Queued${position ? ` (#${position.position})` : ''}: ${messageLink(guildId ?? undefined, channel.id, message.id)} · seed ${submitted.request.seed}${submitted.notice ? `\n${submitted.notice}` : ''}`,
  };
}

/**
 * The whole of `/animate` after the acknowledgement: check, read the options, copy the image to
 * storage, enqueue under the caps, post the status message. Returns what to tell the user.
 */
export async function animate(context: DiscordContext, input: AnimateInput): Promise<AnimateAnswer> {
  const refused = refusal(context.config, {
    guildId: input.guildId,
    channelId: input.channel.id,
    roleIds: roleIdsOf(input.member as never),
    appPermissions: input.appPermissions,
  });
  if (refused) return { ok: false, text: refused };
  const settings = settingsFrom(input.options, input.advanced);
  if (!settings.ok) return { ok: false, text: fixList(settings.errors) };
  if (!input.image) return { ok: false, text: 'Attach an image to animate (PNG, JPEG or WebP).' };
  const requester = discordRequester(input.user, input.guildId);
  try {
    await context.service.checkLimits(requester);
    await context.service.checkBackend();
    const input_image = await storeAttachment(context, input.image, 'image');
    const end_frame = input.endImage
      ? await storeAttachment(context, input.endImage, 'end frame')
      : undefined;
    const submitted = await context.service.submit({
      jobId: input.jobId,
      settings: settings.value as GenerationSettings,
      images: { input_image, end_frame },
      requester,
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

export function fixList(errors: string[]): string {
  return `Please fix:\n${errors.map((error) => `• ${error}`).join('\n')}`.slice(0, 1900);
}

/** A user-facing error as is; anything else logged and summarised, never with internals. */
export function explain(context: DiscordContext, error: unknown): string {
  if (error instanceof UserFacingError) return capitalise(error.message);
  context.log.error({ err: error }, 'discord request failed');
  return 'Something went wrong on our side and nothing was queued. Please try again in a minute.';
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
