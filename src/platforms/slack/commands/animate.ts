import type { App } from '@slack/bolt';
import { FIELD_INFO } from '../../../core/request.js';
import { SLACK_IDS, type SlackContext } from '../context.js';
import { refusedHere } from '../intake.js';
import { splitMessage } from '../settings.js';
import { animateModal } from '../views/animate-modal.js';

/** `/animate help`: every setting, from the same schema the modal is built from. */
export function helpText(): string {
  const common = FIELD_INFO.filter((field) => field.common && field.name !== 'prompt');
  const others = FIELD_INFO.filter((field) => !field.common);
  return [
    '*Kinema turns an image and a prompt into a short video.*',
    '• `/animate [prompt]` opens a form: attach the image, write the prompt, pick options.',
    '• Mention me in a message with an image: `@Kinema the cat yawns num_frames=49`.',
    '• On any message with an image: ⋮ → *Animate this image*.',
    '• On a result: *Rerun (new seed)* or react :game_die: / :repeat:. Cancel with the button or :x:.',
    `*Options:* ${common.map((field) => `\`${field.name}\``).join(', ')}`,
    `*Advanced (key=value):* ${others.map((field) => `\`${field.name}\``).join(', ')}, \`resolution\` (480p/720p), \`seconds\``,
  ].join('\n');
}

/**
 * `/animate [prompt]`: slash commands carry no files, so the answer is a modal with a file input,
 * opened at once (the trigger_id is single-use and expires after about 3 s).
 */
export function register(app: App, context: SlackContext): void {
  app.command(SLACK_IDS.command, async ({ command, ack, client, respond }) => {
    const text = command.text?.trim() ?? '';
    if (/^help$/i.test(text)) {
      await context.acks.ack(() => ack({ response_type: 'ephemeral', text: helpText() }));
      return;
    }
    const refused = await refusedHere(context, command.user_id, command.channel_id);
    if (refused) {
      await context.acks.ack(() => ack({ response_type: 'ephemeral', text: refused }));
      return;
    }
    const { prompt, advanced } = splitMessage(text);
    const view = animateModal(
      { kind: 'command', channel: command.channel_id, responseUrl: command.response_url },
      { prompt, advanced },
    );
    // Nothing before views.open: no I/O may eat into the trigger's 3 s.
    const [, opened] = await Promise.allSettled([
      context.acks.ack(() => ack()),
      client.views.open({ trigger_id: command.trigger_id, view }),
    ]);
    if (opened.status === 'rejected') {
      context.log.warn({ err: opened.reason }, 'could not open the animate modal');
      await respond({
        response_type: 'ephemeral',
        text: 'I could not open the form in time. Please run /animate again.',
      }).catch(() => undefined);
    }
  });
}
