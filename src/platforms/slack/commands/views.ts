import type { JobPlace, Requester } from '../../../core/job.js';
import type { AdminActor } from '../../../service/admin-desk.js';
import type { CommandWords } from '../../shared/command-words.js';
import type { JobLinks } from '../../shared/member-texts.js';
import type { SlackContext } from '../context.js';
import { explain } from '../refusals.js';
import { escapeMrkdwn, slackDate } from '../render.js';
import { slackMessageId } from '../store.js';

/** What `/animate jobs|quota|help|history` and `/animate admin …` need on Slack. */

export const SLACK_COMMAND_WORDS: CommandWords = {
  bold: (text) => `*${text}*`,
  link: (text, url) => `<${url}|${text}>`,
  time: (unix) => slackDate(unix, '{date_short_pretty} {time}'),
  date: (unix) => slackDate(unix, '{date_short_pretty} {time}'),
  escape: escapeMrkdwn,
  place: (place) => (place.isDirectMessage ? 'in your DM with Kinema' : `in <#${place.channelId}>`),
  server: 'workspace',
  member: '/animate',
  admin: '/animate admin',
  // A section block holds 3000 characters.
  max: 3000,
};

export function requesterOf(context: SlackContext, userId: string, displayName?: string): Requester {
  return {
    platform: 'slack',
    userId,
    displayName: displayName ?? userId,
    scopeId: context.identity.teamId,
  };
}

/** An admin: a workspace admin or owner (users.info is_admin / is_owner), checked at every use. */
export async function actorOf(context: SlackContext, userId: string): Promise<AdminActor> {
  const [displayName, serverAdmin] = await Promise.all([
    context.users.displayName(userId),
    context.users.canModerate(userId),
  ]);
  return { platform: 'slack', userId, displayName, serverId: context.identity.teamId, serverAdmin };
}

/** A message's address in the workspace, as Slack's permalinks write it. */
export function messageUrl(context: SlackContext, channel: string, ts: string, threadTs?: string): string {
  const base = context.identity.url ?? 'https://slack.com/';
  const thread = threadTs && threadTs !== ts ? `?thread_ts=${threadTs}&cid=${channel}` : '';
  return `${base}archives/${channel}/p${ts.replace('.', '')}${thread}`;
}

/** The job named by a message link (`…/archives/C…/p…`, possibly in Slack's `<…>`), else the text as a job id. */
export async function jobOfLink(context: SlackContext, given: string): Promise<string> {
  const link = /archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})/.exec(given);
  if (!link) return given.replace(/^<|>$/g, '');
  const found = await context.messages.jobOfMessage(slackMessageId(link[1]!, `${link[2]}.${link[3]}`));
  return found ?? given;
}

async function linkOf(context: SlackContext, jobId: string, place?: JobPlace): Promise<string | undefined> {
  const [delivered, status] = await Promise.all([
    context.messages.delivered(jobId),
    context.messages.status(jobId),
  ]);
  const channel = status?.channel ?? place?.channelId;
  if (delivered?.ts && channel) return messageUrl(context, channel, delivered.ts, status?.threadTs);
  if (!status || status.gone || status.unreachable) return undefined;
  return messageUrl(context, status.channel, status.ts, status.threadTs);
}

export async function linksOf(
  context: SlackContext,
  jobs: readonly { jobId: string; place?: JobPlace }[],
): Promise<JobLinks> {
  const links = await Promise.all(
    jobs.map(async (job) => [job.jobId, await linkOf(context, job.jobId, job.place)] as const),
  );
  return new Map(links.filter((entry): entry is readonly [string, string] => entry[1] !== undefined));
}

export interface SlackAnswer {
  text: string;
  blocks?: unknown[];
}

/**
 * Answers a command privately through its response_url once it is acknowledged (the ack carries
 * nothing, so slow reads never risk Slack's 3 s); refusals and errors in Slack's words.
 */
export async function answerPrivately(
  context: SlackContext,
  respond: (message: { response_type: 'ephemeral'; text: string; blocks?: never[] }) => Promise<unknown>,
  build: () => Promise<string | SlackAnswer>,
): Promise<void> {
  let answer: SlackAnswer;
  try {
    const built = await build();
    answer = typeof built === 'string' ? { text: built } : built;
  } catch (error) {
    answer = { text: explain(context, error) };
  }
  await respond({
    response_type: 'ephemeral',
    text: answer.text,
    ...(answer.blocks ? { blocks: answer.blocks as never[] } : {}),
  }).catch((error: unknown) => context.log.warn({ err: error }, 'could not answer the command'));
}
