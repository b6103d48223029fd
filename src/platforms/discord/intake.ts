import type { MessageCreateOptions, PermissionsBitField, RepliableInteraction } from 'discord.js';
import type { ReportTarget } from '../../core/job.js';
import { type GenerationSettings, parseKeyValues, parseSettings } from '../../core/request.js';
import { accessRefusal, type Origin } from '../../service/checks.js';
import type { QueuePosition, Submitted } from '../../service/generation-service.js';
import type { ImageSource } from '../../service/input-images.js';
import { capitalise } from '../shared/answers.js';
import { submitAndPost } from '../shared/submission.js';
import { botUploadLimit, type DiscordContext } from './context.js';
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

/** What `/animate` (or "Animate this image") carries, as read from the interaction without I/O. */
export interface AnimateInput {
  options: Record<string, unknown>;
  advanced?: string | null;
  image: AttachmentLike | null;
  endImage?: AttachmentLike | null;
  user: { id: string; displayName: string };
  member: unknown;
  guildId: string | null;
  channelId: string;
  /** The channel object, for its age restriction and its server's name. */
  channel?: unknown;
  appPermissions?: Readonly<PermissionsBitField> | null;
}

/** A request that passed every check that needs no I/O. */
export interface AnimateRequest {
  origin: Origin;
  settings: GenerationSettings;
  image: AttachmentLike;
  endImage?: AttachmentLike | null;
}

/**
 * Where a job's one status message lives: the interaction's own public reply (deferred; `/animate`,
 * "Animate this image", the Rerun button), or a new channel message (a rerun by reaction).
 */
export type StatusHome =
  | { kind: 'reply'; interaction: RepliableInteraction; messageId: string }
  | { kind: 'post'; channel: SendableChannel };

export interface JobPlace {
  /** Derived from the interaction or reaction, so the same event never enqueues twice. */
  jobId: string;
  guildId: string | null;
  channelId: string;
  /** The interaction's attachment_size_limit, or the guild tier's. */
  uploadLimit: number;
  requesterName: string;
  home: StatusHome;
}

/** `ok: false` and duplicates are told to the person privately; a new job shows in its status. */
export type AnimateAnswer =
  | { ok: true; jobId: string; duplicate: false }
  | { ok: true; jobId: string; duplicate: true; text: string }
  | { ok: false; text: string };

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

/** Where a job goes whose status is this interaction's own public reply (message `messageId`). */
export function replyPlace(
  interaction: RepliableInteraction,
  messageId: string,
  requesterName: string,
): JobPlace {
  return {
    jobId: `dc-${interaction.id}`,
    guildId: interaction.guildId,
    channelId: interaction.channelId ?? '',
    uploadLimit: botUploadLimit(interaction),
    requesterName,
    home: { kind: 'reply', interaction, messageId },
  };
}

function reportTarget(place: JobPlace): ReportTarget {
  return {
    platform: 'discord',
    guildId: place.guildId ?? undefined,
    channelId: place.channelId,
    uploadLimit: place.uploadLimit,
  };
}

const replyRef = (
  place: JobPlace,
  home: { messageId: string; interaction: { createdTimestamp: number } },
) => ({
  channelId: place.channelId,
  messageId: home.messageId,
  postedAt: home.interaction.createdTimestamp,
});

/** The job's first status: the deferred reply edited to show it, or a new message, in the channel's turn. */
async function postFirstStatus(
  context: DiscordContext,
  submitted: Submitted,
  position: QueuePosition | undefined,
  place: JobPlace,
) {
  const { jobId, request } = submitted;
  const { view, payload } = statusPayload({
    jobId,
    state: 'waiting',
    request,
    requesterName: place.requesterName,
    position,
    ...(submitted.variants ? { variants: submitted.variants } : {}),
  });
  const { home, channelId } = place;
  if (home.kind === 'reply') {
    // Recorded before the job was queued (submitAndAnswer); an outcome that came first is not overdrawn.
    // Another reply of a double submit may have recorded itself first: this one queued the job, so it
    // is the status (the other is withdrawn as a duplicate).
    const recorded = await context.messages.status(jobId);
    if (!recorded || (recorded.messageId !== home.messageId && !recorded.finished)) {
      await context.messages.setStatus(jobId, replyRef(place, home));
      await context.messages.linkMessage(home.messageId, jobId);
      context.replies.set(jobId, home.interaction);
    }
    // A notice (no worker online) stays as the message's text: later edits leave the text alone.
    const first = submitted.notice ? { ...payload, content: submitted.notice } : payload;
    await context.sink.update(jobId, channelId, { payload: first, priority: 'first' });
    return { view };
  }
  const posted = await context.sender.send({
    channelId,
    priority: 'first',
    key: `post:${jobId}`,
    run: async () => {
      // The outcome came first (a saturated channel, a fast job): it is posted without a status.
      if (await context.messages.status(jobId)) return;
      const message = await home.channel.send(payload);
      await context.messages.setStatus(jobId, { channelId, messageId: message.id, postedAt: Date.now() });
    },
  });
  if (!posted.sent) throw new Error(`the status message could not be posted (${posted.reason})`);
  return { view };
}

/**
 * Submits (or reruns) through the service, then shows the job's status message in its home; the
 * bot token takes over from the interaction token before it expires, so progress outlives it.
 */
export async function submitAndAnswer(
  context: DiscordContext,
  submit: (reportTo: ReportTarget) => Promise<Submitted>,
  place: JobPlace,
): Promise<AnimateAnswer> {
  const { home } = place;
  if (home.kind === 'reply') {
    // The reply is the status before the job exists: an outcome that comes back before the first
    // status is drawn (a fast render on a busy bot) goes into this reply, not into a second message.
    // A double submit of one form: only the reply that recorded itself first speaks for the job until
    // the one whose submit queued it takes over (postFirstStatus); the other is withdrawn.
    if (await context.messages.setStatusIfAbsent(place.jobId, replyRef(place, home))) {
      await context.messages.linkMessage(home.messageId, place.jobId);
      context.replies.set(place.jobId, home.interaction);
    }
  }
  const result = await submitAndPost(context.service, context.feed, {
    submit: () => submit(reportTarget(place)),
    explain: (error) => explain(context, error),
    post: (submitted, position) => postFirstStatus(context, submitted, position, place),
  });
  if (!result.ok) return result;
  const { jobId } = result.submitted;
  if (!result.duplicate) return { ok: true, jobId, duplicate: false };
  const existing = await context.messages.status(jobId);
  const link =
    existing && !existing.gone
      ? messageLink(place.guildId ?? undefined, existing.channelId, existing.messageId)
      : undefined;
  return { ok: true, jobId, duplicate: true, text: link ? `Already queued: ${link}` : 'Already queued.' };
}

const discordImage = (context: DiscordContext, attachment: AttachmentLike): ImageSource => ({
  url: attachment.url,
  filename: attachment.name,
  allowedHosts: context.cdnHosts,
  declared: { bytes: attachment.size, contentType: attachment.contentType },
});

/**
 * Everything about `/animate` that needs no I/O, before the acknowledgement (synchronous, about
 * 10 µs, so nothing but the defer waits for anything): who and where by the config's allowlists
 * and the bot's permissions first (before anything is parsed), then the options, then the images
 * as Discord declared them. What needs Redis (a server's allowed channels, caps, quotas, pause) is
 * the service's to check after the ack; its refusal withdraws the public reply.
 */
export function checkAnimate(
  context: DiscordContext,
  input: AnimateInput,
): { ok: true; request: AnimateRequest } | { ok: false; text: string } {
  const origin = originOf(context, { ...input, roleIds: roleIdsOf(input.member as never) });
  const refused = accessRefusal(origin.access, origin.place);
  if (refused) return { ok: false, text: refusalText(refused) };
  const settings = settingsFrom(input.options, input.advanced);
  if (!settings.ok) return { ok: false, text: fixList(settings.errors) };
  const { image, endImage } = input;
  if (!image) return { ok: false, text: 'Attach an image to animate (PNG, JPEG or WebP).' };
  const problem =
    context.service.declaredImageProblem(discordImage(context, image), 'image') ??
    (endImage
      ? context.service.declaredImageProblem(discordImage(context, endImage), 'end frame')
      : undefined);
  if (problem) return { ok: false, text: capitalise(problem) };
  // The service refuses it too; said here, it is said before the public acknowledgement.
  if (endImage && settings.value.loop)
    return { ok: false, text: refusalText({ reason: 'loop-with-end-frame' }) };
  return {
    ok: true,
    request: { origin, settings: settings.value as GenerationSettings, image, endImage },
  };
}

/** The rest of `/animate`, after the acknowledgement: the service checks, copies the images and enqueues. */
export function animate(
  context: DiscordContext,
  request: AnimateRequest,
  place: JobPlace,
): Promise<AnimateAnswer> {
  const { origin, settings, image, endImage } = request;
  return submitAndAnswer(
    context,
    (reportTo) =>
      context.service.submit({
        jobId: place.jobId,
        settings,
        images: {
          input_image: discordImage(context, image),
          ...(endImage ? { end_frame: discordImage(context, endImage) } : {}),
        },
        origin,
        reportTo,
      }),
    place,
  );
}
