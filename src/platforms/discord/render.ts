import {
  ActionRowBuilder,
  type APIEmbed,
  ButtonBuilder,
  ButtonStyle,
  type MessageActionRowComponentBuilder,
} from 'discord.js';
import type { Cost, ParentKind } from '../../core/job.js';
import type { GenerationRequest } from '../../core/request.js';
import type { JobSnapshot, StatusView } from '../../core/status-text.js';
import { costText, renderStatus, resultCaption, truncate } from '../../core/status-text.js';
import { parentLine } from '../shared/posted-video.js';

/** Custom ids carry the action and the job: buttons keep working after a restart. */
export const CUSTOM_ID = {
  cancel: (jobId: string) => `kinema:cancel:${jobId}`,
  rerun: (jobId: string) => `kinema:rerun:${jobId}`,
  remix: (jobId: string) => `kinema:remix:${jobId}`,
  extend: (jobId: string) => `kinema:extend:${jobId}`,
  details: (jobId: string) => `kinema:details:${jobId}`,
  /** The Remix form: the click that opened it names it, so a double submit is one job. */
  remixModal: (openerId: string, jobId: string) => `kinema:remix-modal:${openerId}:${jobId}`,
  /** The Extend form, named the same way. */
  extendModal: (openerId: string, jobId: string) => `kinema:extend-modal:${openerId}:${jobId}`,
  animateModal: (messageId: string) => `kinema:animate-message:${messageId}`,
  parse(customId: string): { action: string; target: string } | undefined {
    const match = /^kinema:([a-z-]+):(.+)$/.exec(customId);
    return match ? { action: match[1]!, target: match[2]! } : undefined;
  },
};

const COLOURS = { active: 0x5865f2, done: 0x57f287, failed: 0xed4245, cancelled: 0x99aab5 };

function colour(snapshot: JobSnapshot): number {
  if (snapshot.state === 'succeeded') return COLOURS.done;
  if (snapshot.state === 'failed') return COLOURS.failed;
  if (snapshot.state === 'cancelled' || snapshot.state === 'withheld') return COLOURS.cancelled;
  return COLOURS.active;
}

export function statusEmbed(snapshot: JobSnapshot, view: StatusView = renderStatus(snapshot)): APIEmbed {
  const lines: string[] = [];
  if (view.bar !== undefined) lines.push(`${view.bar} ${view.percent ?? 0}%`);
  if (view.etaUnix) lines.push(`Ready <t:${view.etaUnix}:R>`);
  lines.push(...view.details);
  return {
    title: truncate(view.headline, 256),
    description: truncate(lines.join('\n'), 4000),
    color: colour(snapshot),
    fields: [{ name: 'Prompt', value: truncate(snapshot.request.prompt, 1024) }],
    footer: {
      text: `Job ${snapshot.jobId}${snapshot.requesterName ? ` · for ${snapshot.requesterName}` : ''}`,
    },
  };
}

export function statusPayload(snapshot: JobSnapshot, view: StatusView = renderStatus(snapshot)) {
  const components = view.finished
    ? []
    : [
        new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(
          new ButtonBuilder()
            .setCustomId(CUSTOM_ID.cancel(snapshot.jobId))
            .setLabel('Cancel')
            .setStyle(ButtonStyle.Danger),
        ),
      ];
  // No `content`: an edit leaves the message's text as it was (a notice shown with the first status).
  return { view, payload: { embeds: [statusEmbed(snapshot, view)], components } };
}

/** The buttons under every result, in order (at most 5 in the row). */
const RESULT_BUTTONS: {
  customId(jobId: string): string;
  label: string;
  emoji: string;
  style: ButtonStyle;
}[] = [
  { customId: CUSTOM_ID.rerun, label: 'Rerun (new seed)', emoji: '🎲', style: ButtonStyle.Primary },
  { customId: CUSTOM_ID.extend, label: 'Extend', emoji: '⏩', style: ButtonStyle.Secondary },
  { customId: CUSTOM_ID.remix, label: 'Remix', emoji: '🔀', style: ButtonStyle.Secondary },
  { customId: CUSTOM_ID.details, label: 'Details', emoji: 'ℹ️', style: ButtonStyle.Secondary },
];

export function resultButtons(jobId: string) {
  return [
    new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(
      RESULT_BUTTONS.map((button) =>
        new ButtonBuilder()
          .setCustomId(button.customId(jobId))
          .setLabel(button.label)
          .setEmoji(button.emoji)
          .setStyle(button.style),
      ),
    ),
  ];
}

/** A group's result: each video's own buttons, one row per video, labelled by its number. */
export function variantButtons(jobIds: readonly string[]) {
  return jobIds.flatMap((jobId, i) =>
    resultButtons(jobId).map((row) => {
      for (const button of row.components) {
        if (button instanceof ButtonBuilder && 'label' in button.data) {
          button.setLabel(`#${i + 1} ${button.data.label ?? ''}`.trim());
        }
      }
      return row;
    }),
  );
}

/** The caption of a group's videos: the prompt once, then each video's seed and length. */
export function groupContent(
  request: GenerationRequest,
  videos: readonly { index: number; seed: number; durationSeconds?: number; cost?: Cost; notes: string[] }[],
  info: { requesterId: string; extra: string[] },
): string {
  const [prompt, details] = resultCaption({ ...request, seed: videos[0]?.seed ?? request.seed }, {}, 600);
  const model = (details ?? '').split(' · ')[0] ?? '';
  const lines = [prompt ?? '', `${model} · ${videos.length} variants · for <@${info.requesterId}>`];
  for (const video of videos) {
    const parts = [`#${video.index}`, `seed ${video.seed}`];
    if (video.durationSeconds) parts.push(`${video.durationSeconds.toFixed(1)} s`);
    if (video.cost) parts.push(costText(video.cost));
    lines.push(parts.join(' · '));
  }
  const notes = new Set(videos.flatMap((video) => video.notes));
  for (const note of notes) lines.push(`-# ${truncate(note, 200)}`);
  lines.push(...info.extra);
  lines.push('-# React 🎲 to rerun the whole group with new seeds');
  return truncate(lines.join('\n'), 2000);
}

export function resultContent(
  request: GenerationRequest,
  info: {
    requesterId: string;
    durationSeconds?: number;
    parentLink?: string;
    parentKind?: ParentKind;
    notes: string[];
    cost?: Cost;
  },
): string {
  const [prompt, details] = resultCaption(
    request,
    { durationSeconds: info.durationSeconds, cost: info.cost },
    600,
  );
  const lines = [prompt ?? '', `${details ?? ''} · for <@${info.requesterId}>`];
  const parent = parentLine(info.parentKind, info.parentLink, info.durationSeconds);
  if (parent) lines.push(parent);
  for (const note of info.notes) lines.push(`-# ${truncate(note, 200)}`);
  lines.push('-# React 🎲 to rerun with a new seed');
  return truncate(lines.join('\n'), 2000);
}

export const messageLink = (guildId: string | undefined, channelId: string, messageId: string) =>
  `https://discord.com/channels/${guildId ?? '@me'}/${channelId}/${messageId}`;
