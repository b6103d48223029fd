import type { Config } from '../../config.js';
import { UserFacingError } from '../../core/errors.js';
import type { ReportTarget } from '../../core/job.js';
import type { GenerationSettings } from '../../core/request.js';
import { formatBytes } from '../../media/image.js';
import type { AccessRules, Origin } from '../../service/checks.js';
import type { Submitted } from '../../service/generation-service.js';
import type { ImageSource } from '../../service/input-images.js';
import { submitAndPost } from '../shared/submission.js';
import type { SlackContext } from './context.js';
import { explain, refusalText } from './refusals.js';
import { statusMessage } from './render.js';
import { slackErrorCode } from './status-sink.js';

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

/** Where the app works: SLACK_ALLOWED_CHANNELS, which holds DMs to the list like any conversation. */
export function slackAccess(config: Pick<Config, 'SLACK_ALLOWED_CHANNELS'>): AccessRules {
  return { directMessages: 'like-channels', servers: [], channels: config.SLACK_ALLOWED_CHANNELS, roles: [] };
}

/** Who asks and from where, for the service's checks. */
export function originOf(
  context: SlackContext,
  userId: string,
  channel: string,
  displayName?: string,
): Origin {
  return {
    requester: {
      platform: 'slack',
      userId,
      displayName: displayName || userId,
      scopeId: context.identity.teamId,
    },
    // Slack has no age-restricted channels (MODERATION_ALLOW_IN_NSFW_CHANNELS is Discord's only).
    place: { channelId: channel, isDirectMessage: channel.startsWith('D'), ageRestricted: false },
    access: context.access,
  };
}

/**
 * The access checks' answer for this person here, before any form opens or file is read; the
 * service checks everything again on submit.
 */
export async function refusedHere(
  context: SlackContext,
  userId: string,
  channel: string,
): Promise<string | undefined> {
  const refusal = await context.service.refusal(originOf(context, userId, channel));
  return refusal ? refusalText(refusal) : undefined;
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
 * A Slack file as the service downloads it: with the bot token (files:read) from Slack's file
 * hosts. Its link is learned (files.info) only once the request passed its checks.
 */
export function slackImage(context: SlackContext, given: SlackFileRef): ImageSource {
  return {
    resolve: async () => {
      let file = given;
      if (!file.url_private_download && !file.url_private) {
        const info = await context.clients.web.files.info({ file: given.id });
        file = { ...given, ...(info.file as SlackFileRef) };
      }
      const problem = fileProblem(context, file);
      if (problem) throw new UserFacingError(problem);
      const url = file.url_private_download ?? file.url_private;
      if (!url) {
        throw new UserFacingError(
          'Slack did not give me a download link for that file; try uploading it again',
        );
      }
      return {
        url,
        ...(file.name ? { filename: file.name } : {}),
        allowedHosts: context.fileHosts,
        headers: { Authorization: `Bearer ${context.botToken}` },
      };
    },
  };
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

export type StartAnswer = { ok: true; jobId: string; duplicate: boolean } | { ok: false; text: string };

/**
 * Submits (or reruns) through the service, then posts the status message with chat.postMessage
 * (bot token, in the channel's turn) and maps its ts to the job. When the bot may not post there,
 * the job is withdrawn.
 */
export async function submitAndAnswer(
  context: SlackContext,
  submit: () => Promise<Submitted>,
  place: Place,
  origin: Origin,
): Promise<StartAnswer> {
  const { requester } = origin;
  const result = await submitAndPost(context.service, context.feed, {
    submit,
    explain: (error) => explain(context, error),
    post: async ({ jobId, request, variants }, position) => {
      const message = statusMessage(
        {
          jobId,
          state: 'waiting',
          request,
          requesterName: requester.displayName,
          position,
          ...(variants ? { variants } : {}),
        },
        { requesterId: requester.userId },
      );
      try {
        await context.sender.post(place.channel, {
          priority: 'first',
          key: `post:${jobId}`,
          run: async () => {
            // The outcome came first (a busy channel, a fast job): it is posted without a status.
            if (await context.messages.status(jobId)) return;
            const posted = await context.clients.web.chat.postMessage({
              channel: place.channel,
              ...(place.threadTs ? { thread_ts: place.threadTs } : {}),
              text: message.text,
              blocks: message.blocks,
            });
            await context.messages.setStatus(jobId, {
              channel: posted.channel ?? place.channel,
              ts: posted.ts!,
              ...(place.threadTs ? { threadTs: place.threadTs } : {}),
              requesterId: requester.userId,
              postedAt: Date.now(),
            });
          },
        });
        return { view: message.view };
      } catch (error) {
        const code = slackErrorCode(error);
        if (!code || !CANNOT_POST.has(code)) {
          // The job runs; its status just is not on screen. The video still arrives.
          context.log.warn({ err: error, jobId }, 'could not post the status message');
          return {};
        }
        // Marked before the job is withdrawn, so its "cancelled" outcome is not posted there either.
        await context.messages.setStatus(jobId, {
          channel: place.channel,
          ts: `unposted-${jobId}`,
          requesterId: requester.userId,
          postedAt: Date.now(),
          gone: true,
          unreachable: true,
        });
        throw new UserFacingError(
          code === 'is_archived'
            ? 'This channel is archived, so I cannot post the video here. Nothing was queued.'
            : 'I cannot post in this conversation. Invite me with `/invite @Kinema` (or use a channel I am in) and try again. Nothing was queued.',
        );
      }
    },
  });
  return result.ok ? { ok: true, jobId: result.submitted.jobId, duplicate: result.duplicate } : result;
}

export interface StartJobInput {
  /** Derived from the Slack event, so a redelivered event or a double submit enqueues once. */
  jobId: string;
  settings: GenerationSettings;
  file: SlackFileRef;
  /** The last frame (first-and-last-frame video), when given. */
  endFile?: SlackFileRef;
  user: { id: string; displayName?: string };
  place: Place;
  reply: ReplyTarget;
}

/**
 * Everything after the acknowledgement: the service checks, copies the image and enqueues; the
 * status message is posted. Problems go to the person privately; nothing is queued for them.
 */
export async function startJob(context: SlackContext, input: StartJobInput): Promise<StartAnswer> {
  const displayName = input.user.displayName ?? (await context.users.displayName(input.user.id));
  const origin = originOf(context, input.user.id, input.place.channel, displayName);
  const answer = await submitAndAnswer(
    context,
    () =>
      context.service.submit({
        jobId: input.jobId,
        settings: input.settings,
        images: {
          input_image: slackImage(context, input.file),
          ...(input.endFile ? { end_frame: slackImage(context, input.endFile) } : {}),
        },
        origin,
        reportTo: reportTarget(context, input.place),
      }),
    input.place,
    origin,
  );
  if (!answer.ok) await tell(context, input.reply, answer.text);
  return answer;
}
