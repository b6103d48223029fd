import {
  auditText,
  cancelText,
  pauseText,
  queueText,
  resumedText,
  setText,
  settingsText,
} from '../../shared/admin-texts.js';
import type { SlackContext } from '../context.js';
import { actorOf, jobOfLink, SLACK_COMMAND_WORDS as words } from './views.js';

/**
 * `/animate admin pause|resume|queue|cancel|config|audit`, for workspace admins and owners (and the
 * bot's owners): who may is asked of users.info at every use, and the service refuses anyone else.
 */

export const ADMIN_USAGE = [
  '*`/animate admin` for workspace admins and owners:*',
  '• `pause` / `resume`: new requests here are refused (running videos finish); `pause bot` / `resume bot` for the whole bot (the bot’s owners only)',
  '• `queue`: everything waiting and rendering here, in order',
  '• `cancel <job id or message link>`',
  '• `config`: show the settings; `config <setting> <value>` to set one; `config reset <setting>`',
  '• `audit [count] [everywhere]`: recent audit records (everywhere: the bot’s owners only)',
].join('\n');

export async function adminAnswer(context: SlackContext, args: string, userId: string): Promise<string> {
  const [sub = '', ...rest] = args.trim().split(/\s+/).filter(Boolean);
  const { admin } = context.service;
  const actor = await actorOf(context, userId);
  const whole = rest[0]?.toLowerCase() === 'bot';
  switch (sub.toLowerCase()) {
    case 'pause':
      return pauseText(await (whole ? admin.pauseBot(actor) : admin.pauseServer(actor)), words);
    case 'resume':
      return resumedText(await (whole ? admin.resumeBot(actor) : admin.resumeServer(actor)), words);
    case 'queue':
      return queueText(await admin.serverQueue(actor), words);
    case 'cancel': {
      if (!rest[0]) return 'Say which job: `/animate admin cancel <job id or message link>`.';
      return cancelText(await admin.cancel(await jobOfLink(context, rest[0]), actor));
    }
    case 'config': {
      const [first, ...value] = rest;
      if (first === 'reset' && value[0])
        return setText(value[0], await admin.resetSetting(actor, value[0]), true);
      if (first && value.length > 0) {
        // Slack writes a channel typed as #name as <#C…|name>: the setting wants its id.
        const raw = value.join(' ').replace(/<#([A-Z0-9]+)(?:\|[^>]*)?>/g, '$1');
        return setText(first, await admin.setSetting(actor, first, raw), false);
      }
      return settingsText(await admin.settings(actor), words);
    }
    case 'audit': {
      const count = Number(rest.find((word) => /^\d+$/.test(word)) ?? 10);
      const everywhere = rest.some((word) => word.toLowerCase() === 'everywhere');
      return auditText(
        await admin.audit(actor, { limit: Math.min(25, Math.max(1, count)), everywhere }),
        words,
      );
    }
    default:
      // Even the usage is for admins only: the service refuses anyone else in the one renderer's words.
      await admin.pauseState(actor);
      return ADMIN_USAGE;
  }
}
