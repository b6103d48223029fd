import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { deployCommands } from '../../deploy-commands.js';
import { type Config, parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { normaliseForChat } from '../../src/media/video.js';
import { Pipeline } from '../../src/pipeline.js';
import {
  type DiscordHandle,
  type DiscordStartOptions,
  startDiscord,
} from '../../src/platforms/discord/index.js';
import { bucketOf } from '../../src/platforms/discord/sender.js';
import type { GenerationWorker } from '../../src/queue/generation-worker.js';
import type { GenerationService, ServiceSettings } from '../../src/service/generation-service.js';
import { PublicLinks } from '../../src/service/public-links.js';
import {
  type FakeDiscord,
  type InvokedInteraction,
  type Json,
  Perm,
  startFakeDiscord,
} from '../fakes/discord/index.js';
import { makeMp4, makePng, tempDir } from './media.js';
import { waitFor } from './processes.js';
import { cleanPrefix, TEST_REDIS_URL, uniquePrefix } from './redis.js';
import { ScriptedBackend } from './scripted-backend.js';
import {
  type ScriptedService,
  type ScriptedServiceOptions,
  startScriptedService,
} from './scripted-service.js';
import { serviceFor } from './service.js';

export const MODERATORS_ROLE = '330000000000000001';
const USERS = { alice: '310000000000000001', bob: '310000000000000002', mod: '310000000000000003' };

export const FAST = { lockDurationMs: 1_500, stalledIntervalMs: 1_000, progressIntervalMs: 0 };

/** Everything a Discord test needs: a fake Discord, a scripted render service, a worker, the real bot. */
export interface DiscordHarness {
  discord: FakeDiscord;
  service: ScriptedService;
  pipeline: Pipeline;
  config: Config;
  video: Buffer;
  png: Buffer;
  userId: string;
  otherUserId: string;
  moderatorId: string;
  channelId: string;
  bot?: DiscordHandle;
  /** The service the running bot uses (its admin and member views). */
  api?: GenerationService;
  worker?: GenerationWorker;
  startBot(): Promise<DiscordHandle>;
  /**
   * What the person who used a command or clicked a button was first shown in answer: an immediate
   * reply, the first edit of the deferred reply (the status it became: its text, else its title),
   * or the private follow-up that replaced a withdrawn public reply.
   */
  answer(interactionId: string): Promise<string>;
  /** Until the bot's budget for the channel is all free (nothing sent in the last window). */
  channelIdle(channelId?: string): Promise<void>;
  /**
   * `/animate` from several users in one channel, all at once (one gateway burst), for tests and
   * the benchmarks. Returns the interactions; job ids are `dc-<interaction id>`.
   */
  burst(count: number, options?: { users?: string[]; channelId?: string }): InvokedInteraction[];
  stopBot(): Promise<void>;
  startWorker(concurrency?: number): Promise<GenerationWorker>;
  close(redis: Redis): Promise<void>;
}

export interface HarnessOptions {
  /** The scripted render service (default: 6 steps of 60 ms). */
  service?: Omit<ScriptedServiceOptions, 'video'>;
  bot?: DiscordStartOptions;
  /** Settings of the bot's service beyond the config's (e.g. made-up backend capabilities). */
  api?: Partial<ServiceSettings>;
}

/** The text a message body shows: its content, else its first embed's title. */
function shownText(json: Json | null | undefined): string | undefined {
  const body = (json ?? {}) as { content?: string; embeds?: { title?: string }[] };
  return body.content || body.embeds?.[0]?.title || undefined;
}

export async function startDiscordHarness(
  env: Record<string, string> = {},
  fakeOptions: Parameters<typeof startFakeDiscord>[0] = {},
  options: HarnessOptions = {},
): Promise<DiscordHarness> {
  const prefix = uniquePrefix('discord');
  const media = await tempDir('discord');
  const videoPath = join(media.dir, 'served.mp4');
  await makeMp4(videoPath, { seconds: 1, width: 320, height: 240, faststart: true });
  const video = await readFile(videoPath);
  const png = await makePng(320, 240);
  const discord = await startFakeDiscord({
    users: [
      { id: USERS.alice, username: 'alice' },
      { id: USERS.bob, username: 'bob' },
      { id: USERS.mod, username: 'mod' },
    ],
    guilds: [
      {
        name: 'Studio',
        roles: [{ id: MODERATORS_ROLE, name: 'Moderators', permissions: Perm.ManageMessages }],
        channels: [{ name: 'general' }],
        members: [
          { userId: USERS.alice },
          { userId: USERS.bob },
          { userId: USERS.mod, roles: ['Moderators'] },
        ],
        botRoles: ['Moderators'],
      },
    ],
    ...fakeOptions,
  });
  const service = await startScriptedService({ video, steps: 6, stepMs: 60, ...options.service });
  const config = parseConfig({
    KINEMA_ROLE: 'bot',
    REDIS_URL: TEST_REDIS_URL,
    KINEMA_PREFIX: prefix,
    DISCORD_TOKEN: discord.token,
    DISCORD_APPLICATION_ID: discord.applicationId,
    DISCORD_GUILD_ID: discord.guild('Studio').id,
    DISCORD_API_URL: discord.apiUrl,
    // The classifier is tested where it matters (moderation tests turn it on); elsewhere it only slows.
    MODERATION_IMAGES: 'false',
    ...env,
  });
  await deployCommands(config);
  const log = createLogger(process.env.KINEMA_TEST_LOG ?? 'silent');
  const pipeline = new Pipeline({
    redisUrl: TEST_REDIS_URL,
    prefix,
    log,
    backoffMs: 50,
    community: { env: config, defaultModel: 'wan2.1' },
  });
  const harness: DiscordHarness = {
    discord,
    service,
    pipeline,
    config,
    video,
    png,
    userId: discord.userId('alice'),
    otherUserId: discord.userId('bob'),
    moderatorId: discord.userId('mod'),
    channelId: discord.channelId('general'),
    async startBot() {
      const links = new PublicLinks(pipeline.connection, prefix, pipeline.blobs, config.PUBLIC_URL, 3600);
      harness.api = serviceFor(pipeline, config, options.api);
      harness.bot = await startDiscord(
        {
          config,
          service: harness.api,
          redis: pipeline.connection,
          log,
          links,
          httpRoutes: (req, res) => links.handle(req, res),
        },
        { statusIntervalMs: 150, ...options.bot },
      );
      return harness.bot;
    },
    answer(interactionId) {
      return waitFor(() => {
        const interaction = discord.interaction(interactionId);
        if (!interaction) return undefined;
        const immediate = discord.callbacks(interactionId).find((c) => c.type === 4 && c.status < 300);
        if (immediate) return shownText(immediate.data);
        const route = `/webhooks/${discord.applicationId}/${interaction.token}`;
        const first = discord.requests.find(
          (r) => r.path.startsWith(route) && (r.method === 'PATCH' || r.method === 'POST') && r.status < 300,
        );
        return first ? shownText(first.json) : undefined;
      }, `the answer to ${interactionId}`);
    },
    burst(count, { users = Object.values(USERS), channelId = harness.channelId } = {}) {
      return Array.from({ length: count }, (_, index) =>
        discord.invokeSlashCommand({
          userId: users[index % users.length]!,
          channelId,
          name: 'animate',
          options: {
            image: { bytes: png, filename: `burst-${index}.png`, contentType: 'image/png' },
            prompt: `burst ${index}`,
          } as never,
        }),
      );
    },
    async channelIdle(channelId = harness.channelId) {
      await waitFor(() => harness.bot?.scheduler.idle(bucketOf(channelId)), 'an idle channel budget');
    },
    async stopBot() {
      await harness.bot?.stop();
      harness.bot = undefined;
    },
    async startWorker(concurrency = 2) {
      harness.worker = await pipeline.startWorker(new ScriptedBackend(service.url), normaliseForChat, {
        ...FAST,
        concurrency,
      });
      return harness.worker;
    },
    async close(redis) {
      await harness.stopBot();
      await pipeline.close();
      await discord.close();
      await service.close();
      await media.cleanup();
      await cleanPrefix(redis, prefix);
    },
  };
  return harness;
}
