import type { App } from '@slack/bolt';
import { SLACK_IDS, type SlackContext } from '../context.js';
import { isImageFile, refusedHere, type SlackFileRef, tell } from '../intake.js';
import { animateModal } from '../views/animate-modal.js';

/**
 * Message shortcut "Animate this image" (⋮ on any message with an image): a modal asks for the
 * prompt and options; the image is the message's own.
 */
export function register(app: App, context: SlackContext): void {
  app.shortcut(
    { callback_id: SLACK_IDS.animateMessageShortcut, type: 'message_action' },
    async ({ shortcut, ack, client }) => {
      // The modal opens right after (the trigger lives 3 s): no waiting for other acknowledgements.
      await context.acks.ack(() => ack());
      if (shortcut.type !== 'message_action') return;
      const reply = {
        userId: shortcut.user.id,
        channel: shortcut.channel.id,
        responseUrl: shortcut.response_url,
      };
      const refused = await refusedHere(context, shortcut.user.id, shortcut.channel.id);
      if (refused) return tell(context, reply, refused);
      const files = (shortcut.message.files ?? []) as SlackFileRef[];
      const image = files.find(isImageFile);
      if (!image) {
        return tell(
          context,
          reply,
          files.length > 0
            ? 'The file on that message is not an image. Pick a message with a PNG, JPEG or WebP image.'
            : 'That message has no image. Pick a message with a PNG, JPEG or WebP image attached.',
        );
      }
      const message = shortcut.message as { ts: string; thread_ts?: string };
      const view = animateModal({
        kind: 'shortcut',
        channel: shortcut.channel.id,
        threadTs: message.thread_ts ?? message.ts,
        responseUrl: shortcut.response_url,
        file: { id: image.id, ...(image.name ? { name: image.name } : {}) },
      });
      try {
        await client.views.open({ trigger_id: shortcut.trigger_id, view });
      } catch (error) {
        context.log.warn({ err: error }, 'could not open the animate modal from the shortcut');
        await tell(context, reply, 'I could not open the form in time. Please try the shortcut again.');
      }
    },
  );
}
