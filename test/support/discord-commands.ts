import { PermissionFlagsBits, PermissionsBitField } from 'discord.js';
import { vi } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { DiscordContext } from '../../src/platforms/discord/context.js';
import { discordAccess } from '../../src/platforms/discord/guards.js';
import { ReplyTokens } from '../../src/platforms/discord/reply-tokens.js';
import { DiscordSender } from '../../src/platforms/discord/sender.js';
import type { PickedAttachment, StatusMessageRef } from '../../src/platforms/discord/store.js';
import { AckGate } from '../../src/platforms/shared/ack-gate.js';
import { MemoryBudget } from '../../src/platforms/shared/memory-budget.js';
import type { GenerationService } from '../../src/service/generation-service.js';
import type { PlatformFeed } from '../../src/service/platform-feed.js';
import { stubFeed, stubService } from './stub-service.js';

/**
 * A command file's `execute` alone: a fake interaction (only what the command reads, with `vi.fn`
 * answers) and a Discord context around a stub service. What the person sees is in the calls:
 * the deferral, the modal, the reply, and the status message sent to the channel.
 */

export const GUILD = '100000000000000001';
export const CHANNEL = '100000000000000002';
export const USER = '100000000000000003';
export const INTERACTION = '100000000000000004';
/** The id of the interaction's own (deferred) reply. */
export const REPLY = '100000000000000008';

/** What the bot may do in the channel: everything it needs. */
export const BOT_PERMISSIONS = new PermissionsBitField(
  PermissionFlagsBits.ViewChannel |
    PermissionFlagsBits.SendMessages |
    PermissionFlagsBits.EmbedLinks |
    PermissionFlagsBits.AttachFiles,
);

export function fakeDiscordContext() {
  const service = stubService();
  const feed = stubFeed();
  const statuses = new Map<string, StatusMessageRef>();
  const picks = new Map<string, PickedAttachment>();
  const messages = {
    setStatus: vi.fn(async (jobId: string, ref: StatusMessageRef) => void statuses.set(jobId, ref)),
    setStatusIfAbsent: vi.fn(async (jobId: string, ref: StatusMessageRef) => {
      if (!statuses.has(jobId)) statuses.set(jobId, ref);
    }),
    linkMessage: vi.fn(async (_messageId: string, _jobId: string) => undefined),
    status: vi.fn(async (jobId: string) => statuses.get(jobId)),
    setPicked: vi.fn(async (messageId: string, userId: string, attachment: PickedAttachment) => {
      picks.set(`${messageId}:${userId}`, attachment);
    }),
    picked: vi.fn(async (messageId: string, userId: string) => picks.get(`${messageId}:${userId}`)),
  };
  const config = parseConfig({ KINEMA_ROLE: 'bot' });
  // The real per-channel sender and ack gate (an empty channel answers at once); the status sink is
  // a spy: what the job's status message is asked to show is what the person sees.
  const sender = new DiscordSender({ rest: { on: () => undefined } } as never);
  const sink = { update: vi.fn(async (_jobId: string, _channelId: string, _update: unknown) => 'shown') };
  const context = {
    client: {},
    sender,
    sink,
    acks: new AckGate(),
    replies: new ReplyTokens(),
    memory: new MemoryBudget(64 * 1024 * 1024),
    config,
    log: createLogger('silent'),
    service: service as unknown as GenerationService,
    feed: feed as unknown as PlatformFeed,
    messages,
    access: discordAccess(config),
    links: {},
    cdnHosts: ['cdn.discordapp.com'],
  } as unknown as DiscordContext;
  return { context, service, feed, messages, statuses, sink };
}

/** A text channel the bot can post in; `send` answers with the new message's id. */
export function fakeChannel() {
  return {
    id: CHANNEL,
    isSendable: () => true,
    send: vi.fn(async (_payload: unknown) => ({ id: '100000000000000009' })),
  };
}

/** The parts of any command interaction the command files read. */
export function interactionBase(channel = fakeChannel()) {
  return {
    id: INTERACTION,
    token: 'interaction-token',
    createdTimestamp: Date.now(),
    webhook: {},
    guildId: GUILD,
    channelId: CHANNEL,
    channel,
    guild: { premiumTier: 0 },
    attachmentSizeLimit: 25 * 1024 * 1024,
    appPermissions: BOT_PERMISSIONS,
    user: { id: USER, displayName: 'alice' },
    member: { displayName: 'Alice', roles: [] as string[] },
    client: {
      channels: { fetch: vi.fn(async () => null) },
      // The public defer goes out raw (replies.ts): the interaction callback, with its response.
      rest: {
        post: vi.fn(async (_route: string, _options: unknown) => ({ resource: { message: { id: REPLY } } })),
      },
    },
    deferReply: vi.fn(async (_options: unknown) => ({ resource: { message: { id: REPLY } } })),
    fetchReply: vi.fn(async () => ({ id: REPLY })),
    deleteReply: vi.fn(async () => undefined),
    followUp: vi.fn(async (_options: unknown) => undefined),
    editReply: vi.fn(async (_options: unknown) => undefined),
    reply: vi.fn(async (_options: unknown) => undefined),
    showModal: vi.fn(async (_modal: unknown) => undefined),
  };
}

/** The public defers the interaction sent (replies.ts posts the callback itself, with its response). */
export function publicDefers(interaction: { client: { rest: { post: { mock: { calls: unknown[][] } } } } }) {
  return interaction.client.rest.post.mock.calls
    .map(([route, options]) => ({
      route: String(route),
      ...(options as { body: { type: number; data?: { flags?: number } } }),
    }))
    .filter((call) => call.body.type === 5);
}
