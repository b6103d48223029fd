import { CANCEL_ANSWER } from '../../core/status-text.js';
import type { ServerQueue, SettingsView } from '../../service/admin-desk.js';
import type { AuditRecord } from '../../service/moderation/index.js';
import type { PauseState } from '../../service/pause.js';
import type { ServerSettingName, SetResult } from '../../service/server-settings.js';
import { capitalise } from './answers.js';
import { type CommandWords, fitLines, PHASE, quoted, unix } from './command-words.js';

/** What the admin commands show (`pause`, `resume`, `queue`, `cancel`, `config`, `audit`), in any platform's words. */

const who = (requester: { userId: string; displayName?: string }, w: CommandWords) =>
  w.escape(requester.displayName ?? requester.userId);

export function queueText(queue: ServerQueue, w: CommandWords): string {
  if (queue.rendering.length + queue.waiting.length === 0)
    return `Nothing is waiting or rendering in this ${w.server}.`;
  const lines: string[] = [];
  if (queue.rendering.length > 0) lines.push(w.bold(`Rendering (${queue.rendering.length})`));
  for (const view of queue.rendering) {
    const percent = view.percent !== undefined ? ` ${view.percent}%` : '';
    lines.push(
      `• \`${view.jobId}\` ${who(view.requester, w)} · ${quoted(view.prompt, w, 60)} · ${PHASE[view.phase ?? 'queued'] ?? view.phase}${percent}`,
    );
  }
  if (queue.waiting.length > 0)
    lines.push(w.bold(`Waiting (${queue.waiting.length}), in the order they start`));
  for (const view of queue.waiting) {
    const where = view.position
      ? `#${view.position.position} of ${view.position.of}`
      : view.held === 'paused'
        ? 'held (paused)'
        : view.held === 'cap'
          ? 'held (person at their cap)'
          : 'waiting';
    const relaxed = view.relaxed ? ' · relaxed' : '';
    lines.push(
      `• ${where} · \`${view.jobId}\` ${who(view.requester, w)} · ${quoted(view.prompt, w, 60)}${relaxed}`,
    );
  }
  lines.push(`Cancel one with \`${w.admin} cancel\` and its job id or a link to its message.`);
  return fitLines(lines, w.max);
}

export function pauseText(state: PauseState, w: CommandWords): string {
  const lines: string[] = [];
  if (state.bot)
    lines.push(`The whole bot is paused (by ${state.bot.by}): running videos finish, nothing new starts.`);
  if (state.server) {
    lines.push(
      `This ${w.server} is paused (by ${state.server.by}): new requests are refused, waiting ones stay in line until it is resumed; running videos finish.`,
    );
  }
  if (lines.length === 0) lines.push(`Kinema is running in this ${w.server}.`);
  return lines.join('\n');
}

export function resumedText(state: PauseState & { resumed?: number }, w: CommandWords): string {
  const back = state.resumed
    ? ` ${state.resumed} held video${state.resumed === 1 ? '' : 's'} went back in line.`
    : '';
  return `${pauseText(state, w)}${back}`;
}

export const cancelText = (result: keyof typeof CANCEL_ANSWER) => CANCEL_ANSWER[result];

const shown = (value: unknown) =>
  Array.isArray(value) ? (value.length ? value.join(', ') : '(none)') : JSON.stringify(value);

export function settingsText(view: SettingsView, w: CommandWords): string {
  const lines = [w.bold(`Settings of this ${w.server}`)];
  for (const name of Object.keys(view.values) as ServerSettingName[]) {
    const own = name in view.overrides;
    const origin = own ? ` (set here; default ${shown(view.defaults[name])})` : '';
    lines.push(`• \`${name}\` = ${shown(view.values[name])}${origin}: ${view.about[name]}`);
  }
  lines.push(
    `Change one with \`${w.admin} config\` and a setting and a value, or reset it to the default. A change applies from the next video on, without a restart.`,
  );
  return fitLines(lines, w.max);
}

export function setText(name: string, result: SetResult, reset: boolean): string {
  if (!result.ok) return `Not changed: ${result.error}.`;
  return reset
    ? `\`${name}\` is back to the default, ${shown(result.value)}. It applies from the next video on.`
    : `\`${name}\` is now ${shown(result.value)}. It applies from the next video on.`;
}

export function auditText(records: readonly AuditRecord[], w: CommandWords): string {
  if (records.length === 0) return 'No audit records yet.';
  const lines = [
    w.bold(`Last ${records.length} audit record${records.length === 1 ? '' : 's'}, newest first`),
  ];
  for (const record of records) {
    const parts = [
      w.date(unix(record.submittedAt)),
      `\`${record.jobId}\``,
      w.escape(record.requesterName ?? record.requesterId),
      quoted(record.prompt, w, 60),
      record.model,
      capitalise(record.outcome),
    ];
    if (record.seed !== undefined) parts.push(`seed ${record.seed}`);
    if (record.textVerdict?.status === 'flagged')
      parts.push(`prompt flagged (${record.textVerdict.category})`);
    if (record.inputVerdict?.status === 'flagged')
      parts.push(`image flagged (${record.inputVerdict.category})`);
    if (record.resultVerdict?.status === 'flagged')
      parts.push(`result flagged (${record.resultVerdict.category})`);
    if (record.cost) parts.push(`${record.cost.amount.toFixed(2)} ${record.cost.currency}`);
    if (record.detail && record.outcome !== 'completed') parts.push(record.detail.slice(0, 120));
    lines.push(`• ${parts.join(' · ')}`);
  }
  return fitLines(lines, w.max);
}
