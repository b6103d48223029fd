import type { App } from '@slack/bolt';
import type { SlackContext } from '../context.js';
import {
  isImageFile,
  type Place,
  type ReplyTarget,
  refusedHere,
  type SlackFileRef,
  startJob,
  tell,
} from '../intake.js';
import { fixList } from '../refusals.js';
import { readSettings, splitMessage } from '../settings.js';

/** The fields of app_mention and message events Kinema reads. */
interface MessageLike {
  user?: string;
  bot_id?: string;
  subtype?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  channel: string;
  channel_type?: string;
  files?: SlackFileRef[];
}

const HINT =
  'Attach an image (PNG, JPEG or WebP) to your message and mention me with a prompt, e.g. ' +
  '`@Kinema the cat yawns num_frames=49`; attach a second image to end the video on it. ' +
  'Or use `/animate`, or ⋮ → *Animate this image* on a message with an image.';

/**
 * `@Kinema <prompt> [key=value …]` in a message with an image, or two: the first image (in the
 * order Slack lists the message's files, the order they were attached) is the start, the second
 * the end frame. The same message can arrive as an
 * app_mention and as a message event (a mention with a file sometimes comes only as the latter,
 * platform notes S1), so both are handled and the message is claimed once in Redis. Direct
 * messages to the app need no mention.
 */
export async function handleMessage(
  context: SlackContext,
  event: MessageLike,
  via: 'app_mention' | 'message',
): Promise<void> {
  const { botUserId } = context.identity;
  if (!event.user || event.bot_id || event.user === botUserId) return;
  const inDm = event.channel_type === 'im' || event.channel.startsWith('D');
  const files = event.files ?? [];
  if (via === 'message') {
    if (event.subtype !== undefined && event.subtype !== 'file_share') return;
    // In channels only mentions count; their file-less form is answered through app_mention.
    if (!inDm && (files.length === 0 || !(event.text ?? '').includes(`<@${botUserId}>`))) return;
  }
  const place: Place = {
    channel: event.channel,
    ...(inDm
      ? event.thread_ts
        ? { threadTs: event.thread_ts }
        : {}
      : { threadTs: event.thread_ts ?? event.ts }),
  };
  const reply: ReplyTarget = {
    userId: event.user,
    channel: event.channel,
    ...(place.threadTs ? { threadTs: place.threadTs } : {}),
  };
  if (files.length === 0) {
    // No claim: should a file_share twin of this mention follow, it still counts.
    await tell(context, reply, (await refusedHere(context, event.user, event.channel)) ?? HINT);
    return;
  }
  // From here on one answer per message, whichever event came first.
  if (!(await context.messages.claim('message', `${event.channel}-${event.ts}`))) return;
  const refused = await refusedHere(context, event.user, event.channel);
  if (refused) return tell(context, reply, refused);
  const images = files.filter(isImageFile);
  const [image, endImage] = images;
  if (!image) {
    const name = files[0]?.name ?? 'that file';
    return tell(context, reply, `“${name}” is not an image; attach a PNG, JPEG or WebP.`);
  }
  if (images.length > 2) {
    return tell(
      context,
      reply,
      `You attached ${images.length} images; attach one (the start), or two (the start, then the end frame).`,
    );
  }
  const { prompt, advanced } = splitMessage(event.text ?? '');
  if (!prompt) {
    return tell(context, reply, 'Add a prompt to your message: what should happen in the video?');
  }
  const settings = readSettings({ prompt }, advanced);
  if (!settings.ok) return tell(context, reply, fixList(settings.errors));
  await startJob(context, {
    jobId: `sl-m-${event.channel}-${event.ts}`,
    settings: settings.value,
    file: image,
    ...(endImage ? { endFile: endImage } : {}),
    user: { id: event.user },
    place,
    reply,
  });
}

export function register(app: App, context: SlackContext): void {
  // Bolt acknowledges events before their listener: the work waits for the burst's other acks.
  app.event('app_mention', async ({ event }) => {
    await context.acks.settled();
    await handleMessage(context, event as unknown as MessageLike, 'app_mention');
  });
  app.event('message', async ({ event }) => {
    await context.acks.settled();
    await handleMessage(context, event as unknown as MessageLike, 'message');
  });
}
