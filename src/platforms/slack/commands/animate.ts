import type { App } from '@slack/bolt';
import { SLACK_IDS, type SlackContext } from '../context.js';
import { refusedHere } from '../intake.js';
import { splitMessage } from '../settings.js';
import { animateModal } from '../views/animate-modal.js';
import { adminAnswer } from './admin.js';
import { helpText, MEMBER_SUBCOMMANDS, type MemberSubcommand, memberAnswer } from './member.js';
import { answerPrivately } from './views.js';

/**
 * `/animate jobs|quota|history|help` and `/animate admin …` answer privately (member.ts, admin.ts).
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
    const [first = '', ...rest] = text.split(/\s+/);
    const sub = first.toLowerCase();
    if (MEMBER_SUBCOMMANDS.includes(sub as MemberSubcommand) && rest.length === 0) {
      await context.acks.ack(() => ack());
      await context.acks.settled();
      await answerPrivately(context, respond, () =>
        memberAnswer(context, sub as MemberSubcommand, command.user_id),
      );
      return;
    }
    if (sub === 'admin') {
      await context.acks.ack(() => ack());
      await context.acks.settled();
      await answerPrivately(context, respond, () => adminAnswer(context, rest.join(' '), command.user_id));
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
