import { UserFacingError } from '../../core/errors.js';
import type { ReportTarget, Requester } from '../../core/job.js';
import type { GenerationSettings, StoredImage } from '../../core/request.js';
import { fetchBounded } from '../../media/fetch.js';
import { formatBytes, validateImage } from '../../media/image.js';
import type { Submitted } from '../../service/generation-service.js';
import { SLACK_DELIVERY_QUEUE, type SlackContext } from './context.js';
import { statusMessage } from './render.js';
import type { SlackStatusSink } from './reporter.js';
import { slackErrorCode } from './reporter.js';

/** The file fields Kinema reads, as a view's file_input, a message and files.info give them. */
export interface SlackFileRef {
  id: string;
  name?: string;
  mimetype?: string;
  filetype?: string;
  pretty_type?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
}

/** Where a job's status message and video go. */
export interface Place {
  channel: string;
  threadTs?: string;
}

/** How to answer one person privately: response_url first, then an ephemeral, then a DM. */
export interface ReplyTarget {
  userId: string;
  channel?: string;
  threadTs?: string;
  responseUrl?: string;
}

/** Channels Kinema answers in (SLACK_ALLOWED_CHANNELS); undefined when allowed. */
export function refusal(context: SlackContext, channel: string | undefined): string | undefined {
  const allowed = context.config.SLACK_ALLOWED_CHANNELS;
  if (allowed.length === 0) return undefined;
  if (channel && allowed.includes(channel)) return undefined;
  return `Kinema is not enabled here; try ${allowed.map((id) => `<#${id}>`).join(', ')}.`;
}

export const isImageFile = (file: SlackFileRef) =>
  Boolean(file.mimetype?.startsWith('image/')) ||
  /^(png|jpe?g|gif|webp|heic|avif|tiff?)$/i.test(file.filetype ?? '');

/** A quick check from the file's metadata (no download), for inline modal errors. */
export function fileProblem(context: SlackContext, file: SlackFileRef | undefined): string | undefined {
  if (!file) return 'Attach an image to animate (PNG, JPEG or WebP).';
  const name = file.name ?? 'that file';
  if (!isImageFile(file)) {
    const kind = file.pretty_type ?? file.mimetype ?? file.filetype ?? 'unknown type';
    return `“${name}” is not an image (${kind}); attach a PNG, JPEG or WebP.`;
  }
  const max = context.config.MAX_INPUT_BYTES;
  if (file.size !== undefined && file.size > max) {
    return `“${name}” is ${formatBytes(file.size)}; the limit is ${formatBytes(max)}.`;
  }
  return undefined;
}

/**
 * Downloads a Slack file with the bot token (files:read), checks the real bytes (an HTML page means
 * Slack refused the token) and copies it to durable storage: reruns days later use that copy.
 */
export async function storeSlackImage(context: SlackContext, given: SlackFileRef): Promise<StoredImage> {
  let file = given;
  if (!file.url_private_download && !file.url_private) {
    const info = await context.clients.web.files.info({ file: given.id });
    file = { ...given, ...(info.file as SlackFileRef) };
  }
  const problem = fileProblem(context, file);
  if (problem) throw new UserFacingError(problem);
  const url = file.url_private_download ?? file.url_private;
  if (!url)
    throw new UserFacingError('Slack did not give me a download link for that file; try uploading it again');
  const max = context.config.MAX_INPUT_BYTES;
  const { bytes } = await fetchBounded(url, {
    allowedHosts: context.fileHosts,
    maxBytes: max,
    timeoutMs: 30_000,
    headers: { Authorization: `Bearer ${context.botToken}` },
    label: 'the image',
  });
  const image = await validateImage(bytes, { filename: file.name, maxBytes: max });
  return context.service.pipeline.inputs.save(image);
}

/** Answers one person privately; never throws (a failed answer is only logged). */
export async function tell(context: SlackContext, target: ReplyTarget, text: string): Promise<void> {
  if (target.responseUrl) {
    try {
      const res = await fetch(target.responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // Fall through to the Web API.
    }
  }
  const { web } = context.clients;
  if (target.channel) {
    try {
      await web.chat.postEphemeral({
        channel: target.channel,
        user: target.userId,
        text,
        ...(target.threadTs ? { thread_ts: target.threadTs } : {}),
      });
      return;
    } catch {
      // Not in that channel: a DM still reaches the person.
    }
  }
  await web.chat
    .postMessage({ channel: target.userId, text })
    .catch((error) => context.log.warn({ err: error, userId: target.userId }, 'could not answer the user'));
}

export function fixList(errors: string[]): string {
  return `Please fix:\n${errors.map((error) => `• ${error}`).join('\n')}`.slice(0, 2900);
}

/** A user-facing error as is; anything else logged and summarised, never with internals. */
export function explain(context: SlackContext, error: unknown): string {
  if (error instanceof UserFacingError) return capitalise(error.message);
  context.log.error({ err: error }, 'slack request failed');
  return 'Something went wrong on our side and nothing was queued. Please try again in a minute.';
}

export const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

export function requesterOf(context: SlackContext, userId: string, displayName?: string): Requester {
  return {
    platform: 'slack',
    userId,
    displayName: displayName || userId,
    scopeId: context.identity.teamId,
  };
}

export function reportTarget(context: SlackContext, place: Place): ReportTarget {
  return {
    platform: 'slack',
    teamId: context.identity.teamId,
    channel: place.channel,
    ...(place.threadTs ? { threadTs: place.threadTs } : {}),
  };
}

/** Errors chat.postMessage gives when the bot may not post in a conversation. */
const CANNOT_POST = new Set([
  'not_in_channel',
  'channel_not_found',
  'is_archived',
  'restricted_action',
  'cannot_reply_to_message',
  'team_access_not_granted',
]);

export type StartAnswer =
  | { ok: true; jobId: string; duplicate: boolean }
  | { ok: false; text: string; jobId?: string };

/**
 * After a submission: posts the status message with chat.postMessage (bot token), maps its ts to
 * the job and starts tracking it. When the bot may not post there, the job is cancelled again.
 */
export async function afterSubmit(
  context: SlackContext,
  sink: SlackStatusSink,
  submitted: Submitted,
  place: Place,
  requester: Requester,
): Promise<StartAnswer> {
  if (submitted.duplicate) return { ok: true, jobId: submitted.jobId, duplicate: true };
  const { jobId } = submitted;
  const position = await context.service.pipeline.queue.position(jobId);
  const message = statusMessage(
    { jobId, state: 'waiting', request: submitted.request, requesterName: requester.displayName, position },
    { requesterId: requester.userId },
  );
  try {
    const posted = await context.clients.web.chat.postMessage({
      channel: place.channel,
      ...(place.threadTs ? { thread_ts: place.threadTs } : {}),
      text: message.text,
      blocks: message.blocks,
    });
    sink.remember(jobId, message);
    await context.messages.setStatus(jobId, {
      channel: posted.channel ?? place.channel,
      ts: posted.ts!,
      ...(place.threadTs ? { threadTs: place.threadTs } : {}),
      requesterId: requester.userId,
      postedAt: Date.now(),
    });
    await context.tracker.track(jobId);
    return { ok: true, jobId, duplicate: false };
  } catch (error) {
    const code = slackErrorCode(error);
    if (!code || !CANNOT_POST.has(code)) {
      // The job runs; its status just is not on screen. The video still arrives.
      context.log.warn({ err: error, jobId }, 'could not post the status message');
      return { ok: true, jobId, duplicate: false };
    }
    await context.messages.setStatus(jobId, {
      channel: place.channel,
      ts: `unposted-${jobId}`,
      requesterId: requester.userId,
      postedAt: Date.now(),
      gone: true,
      unreachable: true,
    });
    await context.service.pipeline.cancel({ jobId, by: 'Kinema' }).catch(() => undefined);
    return {
      ok: false,
      jobId,
      text:
        code === 'is_archived'
          ? 'This channel is archived, so I cannot post the video here. Nothing was queued.'
          : 'I cannot post in this conversation. Invite me with `/invite @Kinema` (or use a channel I am in) and try again. Nothing was queued.',
    };
  }
}

export interface StartJobInput {
  /** Derived from the Slack event, so a redelivered event or a double submit enqueues once. */
  jobId: string;
  settings: GenerationSettings;
  file: SlackFileRef;
  user: { id: string; displayName?: string };
  place: Place;
  reply: ReplyTarget;
}

/**
 * Everything after the acknowledgement: copy the image to storage, enqueue under the caps, post the
 * status message. Problems go to the person privately; nothing is queued for them.
 */
export async function startJob(
  context: SlackContext,
  sink: SlackStatusSink,
  input: StartJobInput,
): Promise<StartAnswer> {
  const displayName = input.user.displayName ?? (await context.users.displayName(input.user.id));
  const requester = requesterOf(context, input.user.id, displayName);
  let answer: StartAnswer;
  try {
    await context.service.checkLimits(requester);
    const input_image = await storeSlackImage(context, input.file);
    const submitted = await context.service.submit({
      jobId: input.jobId,
      settings: input.settings,
      images: { input_image },
      requester,
      reportTo: reportTarget(context, input.place),
      deliverVia: SLACK_DELIVERY_QUEUE,
    });
    answer = await afterSubmit(context, sink, submitted, input.place, requester);
  } catch (error) {
    answer = { ok: false, text: explain(context, error) };
  }
  if (!answer.ok) await tell(context, input.reply, answer.text);
  return answer;
}
