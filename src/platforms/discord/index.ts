import { Client, Events, GatewayIntentBits, Partials } from 'discord.js';
import type { PlatformContext, PlatformHandle } from '../platform.js';
import { AckGate } from '../shared/ack-gate.js';
import { deliverOutcome } from '../shared/delivery.js';
import { MemoryBudget } from '../shared/memory-budget.js';
import type { SendBudget, SendScheduler } from '../shared/send-scheduler.js';
import { loadCommands } from './command-loader.js';
import { handleButton, handleModal } from './components.js';
import type { DiscordContext } from './context.js';
import { DiscordDeliverer } from './deliverer.js';
import { discordAccess } from './guards.js';
import { handleReaction } from './reactions.js';
import { tellPrivately } from './replies.js';
import { ReplyTokens } from './reply-tokens.js';
import { discordRestAgent } from './rest-agent.js';
import { DISCORD_CHANNEL_BUDGET, DiscordSender } from './sender.js';
import { DiscordStatusSink } from './status-sink.js';
import { DiscordMessages } from './store.js';

const DISCORD_CDN_HOSTS = ['cdn.discordapp.com', 'media.discordapp.net'];

export interface DiscordStartOptions {
  /** Least time between two edits of one status message. */
  statusIntervalMs?: number;
  /** Message creates and edits per channel the bot allows itself (Discord's unpublished 5 per 5 s). */
  channelBudget?: SendBudget;
}

export interface DiscordHandle extends PlatformHandle {
  /** The per-channel send scheduler: its `stats` (429s, coalesced edits) and budgets. */
  scheduler: SendScheduler;
}

/** Starts the Discord side: gateway client, command and component routing, progress, delivery. */
export async function startDiscord(
  platform: PlatformContext,
  options: DiscordStartOptions = {},
): Promise<DiscordHandle> {
  const { config, service, log } = platform;
  const client = new Client({
    // Reactions on messages from before a restart arrive only with partials (platform notes D9).
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.GuildMessageReactions,
      GatewayIntentBits.DirectMessages,
      GatewayIntentBits.DirectMessageReactions,
    ],
    partials: [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User],
    rest: {
      ...(config.DISCORD_API_URL ? { api: config.DISCORD_API_URL } : {}),
      agent: discordRestAgent() as never,
      // The default 15 s also bounds uploads; a 50-100 MiB video on a slow uplink needs longer.
      timeout: 120_000,
    },
  });
  const ttl = config.STORAGE_TTL_DAYS * 86_400;
  const messages = new DiscordMessages(platform.redis, config.KINEMA_PREFIX, ttl);
  const cdnHosts = [...DISCORD_CDN_HOSTS];
  // A proxy or stand-in serves attachments from its own machine, possibly on another port.
  if (config.DISCORD_API_URL) cdnHosts.push(new URL(config.DISCORD_API_URL).hostname);
  const context = {
    client,
    config,
    log: log.child({ platform: 'discord' }),
    service,
    messages,
    access: discordAccess(config),
    links: platform.links,
    cdnHosts,
    sender: new DiscordSender(client, options.channelBudget ?? DISCORD_CHANNEL_BUDGET),
    acks: new AckGate('discord'),
    replies: new ReplyTokens(),
    memory: new MemoryBudget(config.UPLOAD_MEMORY_MB * 1024 * 1024),
  } as DiscordContext;
  const sink = new DiscordStatusSink(context);
  context.sink = sink;
  context.feed = service.feed('discord', sink, { statusIntervalMs: options.statusIntervalMs ?? 5_000 });
  const deliverer = new DiscordDeliverer(context, sink);
  const commands = await loadCommands();

  client.on(Events.InteractionCreate, async (interaction) => {
    try {
      if (interaction.isChatInputCommand() || interaction.isMessageContextMenuCommand()) {
        const command = commands.get(interaction.commandName);
        if (command) await command.execute(interaction, context);
        return;
      }
      if (interaction.isButton()) {
        await handleButton(context, interaction);
        return;
      }
      if (interaction.isModalSubmit()) {
        if (await handleModal(context, interaction)) return;
        const command = [...commands.values()].find(
          (candidate) => candidate.modalPrefix && interaction.customId.startsWith(candidate.modalPrefix),
        );
        await command?.submitModal?.(interaction, context);
      }
    } catch (error) {
      context.log.error({ err: error }, 'interaction failed');
      if (interaction.isRepliable()) {
        await tellPrivately(
          context,
          interaction,
          'Something went wrong on our side. Please try again.',
        ).catch(() => undefined);
      }
    }
  });
  client.on(Events.MessageReactionAdd, (reaction, user) => {
    handleReaction(context, reaction, user).catch((error) =>
      context.log.warn({ err: error }, 'reaction failed'),
    );
  });
  client.on(Events.Error, (error) => context.log.error({ err: error }, 'discord client error'));

  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(config.DISCORD_TOKEN);
  await ready;
  await context.feed.start((delivery) => deliverOutcome(deliverer, context.feed, context.log, delivery));
  context.log.info({ user: client.user?.tag }, 'discord bot ready');
  return {
    name: 'discord',
    scheduler: context.sender.scheduler,
    async stop() {
      await context.feed.close();
      context.sender.scheduler.close();
      await client.destroy();
    },
  };
}
