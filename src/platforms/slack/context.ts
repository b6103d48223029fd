import type { webApi } from '@slack/bolt';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { AccessRules } from '../../service/checks.js';
import type { GenerationService } from '../../service/generation-service.js';
import type { PlatformFeed } from '../../service/platform-feed.js';
import type { PublicLinks } from '../../service/public-links.js';
import type { AckGate } from '../shared/ack-gate.js';
import type { SlackSender } from './sender.js';
import type { SlackMessages } from './store.js';
import type { SlackUsers } from './users.js';

/** Names shared by the manifest, the listeners and the blocks they render. */
export const SLACK_IDS = {
  command: '/animate',
  /** Message shortcut "Animate this image" (manifest `shortcuts[].callback_id`). */
  animateMessageShortcut: 'kinema_animate_message',
  /** The animate modal, from the command and from the shortcut. */
  animateView: 'kinema_animate',
  cancelAction: 'kinema_cancel',
  rerunAction: 'kinema_rerun',
  remixAction: 'kinema_remix',
  extendAction: 'kinema_extend',
  detailsAction: 'kinema_details',
  /** The Remix form, opened by a result's Remix button. */
  remixView: 'kinema_remix',
  /** The Extend form, opened by a result's Extend button. */
  extendView: 'kinema_extend',
} as const;

/** Reaction short names (no colons): 🎲 and 🔁 rerun with a new seed, ❌ cancels. */
export const RERUN_REACTIONS: ReadonlySet<string> = new Set(['game_die', 'repeat']);
export const CANCEL_REACTIONS: ReadonlySet<string> = new Set(['x']);

/** Who the bot is, learned once from auth.test at start-up. */
export interface SlackIdentity {
  botUserId: string;
  botId: string;
  teamId: string;
  /** The workspace's address (`https://<domain>.slack.com/`), for links to messages. */
  url?: string;
}

/**
 * Three Web API clients, so one kind of traffic never stalls another (platform notes S8): a 429 on
 * a progress edit pauses only `progress`, never the upload on `delivery`.
 */
export interface SlackClients {
  /** Interactions: views, ephemeral answers, files.info, users.info, the first status post. */
  web: webApi.WebClient;
  /** chat.update of status messages; rate-limited calls are rejected, not queued. */
  progress: webApi.WebClient;
  /** The video upload and the final edit of the status message. */
  delivery: webApi.WebClient;
}

/** What listeners get: the service (their only door) plus Slack's own bookkeeping. */
export interface SlackContext {
  config: Config;
  log: Logger;
  service: GenerationService;
  /** Status edits and outcomes of Slack's jobs. */
  feed: PlatformFeed;
  messages: SlackMessages;
  users: SlackUsers;
  /** Where the app works (SLACK_ALLOWED_CHANNELS), for the service's access checks. */
  access: AccessRules;
  clients: SlackClients;
  identity: SlackIdentity;
  links: PublicLinks;
  /** Hosts input images may be downloaded from: files.slack.com, plus SLACK_API_URL's host. */
  fileHosts: string[];
  /** The bot token, for file downloads only; never logged, never stored in jobs. */
  botToken: string;
  /** Every message post and edit, paced per channel and per workspace. */
  sender: SlackSender;
  /** Requests are acknowledged before any request's slower work starts. */
  acks: AckGate;
}
