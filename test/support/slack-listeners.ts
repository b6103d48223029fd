import type { App } from '@slack/bolt';
import { vi } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { AckGate } from '../../src/platforms/shared/ack-gate.js';
import type { SlackContext } from '../../src/platforms/slack/context.js';
import { slackAccess } from '../../src/platforms/slack/intake.js';
import { SlackSender } from '../../src/platforms/slack/sender.js';
import type { SlackStatusRef } from '../../src/platforms/slack/store.js';
import type { GenerationService } from '../../src/service/generation-service.js';
import type { PlatformFeed } from '../../src/service/platform-feed.js';
import { stubFeed, stubService } from './stub-service.js';

/**
 * One Slack listener at a time, the way Bolt's starter template tests its listeners: the file's
 * `register` runs against a stand-in App that keeps each handler, and the handler is then called
 * with fake `ack` / `respond` / `client` and a stub service. What a person would see is in the
 * calls: the ack, the ephemeral answers (response_url posts or chat.postEphemeral), the modal.
 */

type Handler = (args: Record<string, unknown>) => Promise<unknown>;
export type Register = (app: App, context: SlackContext) => void;

export const TEAM = 'T0TEAM';
export const BOT_USER = 'U0BOT';
export const CHANNEL = 'C0CHAN';
export const USER = 'U0ALICE';

/** The handlers a listener file registers, by command, action id, event type or shortcut callback id. */
export function listenersOf(register: Register, context: SlackContext) {
  const handlers = new Map<string, Handler>();
  const keep = (kind: string) => (id: string | { callback_id: string }, handler: Handler) =>
    handlers.set(`${kind}:${typeof id === 'string' ? id : id.callback_id}`, handler);
  const app = {
    command: keep('command'),
    action: keep('action'),
    event: keep('event'),
    shortcut: keep('shortcut'),
  };
  register(app as unknown as App, context);
  return (kind: 'command' | 'action' | 'event' | 'shortcut', id: string): Handler => {
    const handler = handlers.get(`${kind}:${id}`);
    if (!handler) throw new Error(`no ${kind} listener for ${id}`);
    return handler;
  };
}

/** A Web API client whose calls succeed; `views.open` answers like Slack. */
export function fakeClient() {
  return {
    views: {
      open: vi.fn(async (_args: { trigger_id: string; view: Record<string, unknown> }) => ({ ok: true })),
    },
    chat: {
      postEphemeral: vi.fn(async (_args: { channel: string; user: string; text: string }) => ({ ok: true })),
      postMessage: vi.fn(async (args: { channel: string; text?: string }) => ({
        ok: true,
        channel: args.channel,
        ts: '1700000000.000100',
      })),
    },
    users: { info: vi.fn(async () => ({ ok: true, user: { id: USER, real_name: 'Alice' } })) },
  };
}

/** The Slack context with a stub service, in-memory message bookkeeping and fake clients. */
export function fakeSlackContext() {
  const service = stubService();
  const feed = stubFeed();
  const client = fakeClient();
  const statuses = new Map<string, SlackStatusRef>();
  const jobsByMessage = new Map<string, string>();
  const claimed = new Set<string>();
  const messages = {
    claim: vi.fn(async (kind: string, id: string) => {
      if (claimed.has(`${kind}:${id}`)) return false;
      claimed.add(`${kind}:${id}`);
      return true;
    }),
    setStatus: vi.fn(async (jobId: string, ref: SlackStatusRef) => {
      statuses.set(jobId, ref);
      jobsByMessage.set(`${ref.channel}:${ref.ts}`, jobId);
    }),
    jobOfMessage: vi.fn(async (messageId: string) => jobsByMessage.get(messageId)),
    status: vi.fn(async (jobId: string) => statuses.get(jobId)),
  };
  const users = {
    displayName: vi.fn(async (userId: string) => (userId === USER ? 'Alice' : userId)),
    canModerate: vi.fn(async (_userId: string) => false),
  };
  const config = parseConfig({ KINEMA_ROLE: 'bot' });
  const context = {
    config,
    log: createLogger('silent'),
    service: service as unknown as GenerationService,
    feed: feed as unknown as PlatformFeed,
    messages,
    users,
    access: slackAccess(config),
    clients: { web: client, progress: client, delivery: client },
    identity: { botUserId: BOT_USER, botId: 'B0BOT', teamId: TEAM },
    links: {},
    fileHosts: ['files.slack.com'],
    botToken: 'xoxb-test',
    // The real ack gate and per-channel sender: an idle channel sends at once.
    acks: new AckGate(),
    sender: new SlackSender(TEAM, 40, []),
  } as unknown as SlackContext;
  return { context, service, feed, client, messages, users, statuses, jobsByMessage };
}

/** What Bolt hands every listener to acknowledge with. */
export const fakeAck = () => vi.fn(async (_response?: unknown) => undefined);

/**
 * Posts to response_url (how `tell` answers a person first): captured instead of sent.
 * Returns the texts posted, in order; call `restore` (or vi.unstubAllGlobals) afterwards.
 */
export function captureResponseUrlPosts() {
  const posts: Array<{ url: string; body: Record<string, unknown> }> = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: { body: string }) => {
      posts.push({ url, body: JSON.parse(init.body) as Record<string, unknown> });
      return new Response('ok', { status: 200 });
    }),
  );
  return posts;
}
