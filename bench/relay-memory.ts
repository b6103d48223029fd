/**
 * `npm run bench:relay-memory [-- videos=20 MB=20]`
 * Memory while the bot relays many large videos at once: 20 `/animate` in 20 channels of the fake
 * Discord whose renders all finish at the same moment with a 20 MB mp4 each. The bot runs alone in
 * its own process (`src/main.ts` with KINEMA_ROLE=bot and the production settings), so its RSS is
 * its own; the worker, the render service and the fake Discord live in this process. Prints the
 * bot's RSS growth (peak while relaying, and 3 s after the last post) and Redis's `used_memory`
 * growth (peak, and after). Asserts nothing.
 */
import { readFile, readFile as readText, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { normaliseForChat } from '../src/media/video.js';
import { Perm } from '../test/fakes/discord/index.js';
import { FAST, MODERATORS_ROLE, startDiscordHarness } from '../test/support/discord-harness.js';
import { makeMp4, tempDir } from '../test/support/media.js';
import { spawnTs, stopProcess, waitFor, waitForOutput } from '../test/support/processes.js';
import { testRedis } from '../test/support/redis.js';
import { ScriptedBackend } from '../test/support/scripted-backend.js';
import { startScriptedService } from '../test/support/scripted-service.js';
import { MB, redisUsedMemory, sleep } from './figures.js';

const videos = Number(process.argv[2] ?? 20);
const videoMB = Number(process.argv[3] ?? 20);

const media = await tempDir('relay');
const videoPath = join(media.dir, 'large.mp4');
// Noise at a fixed bitrate: an mp4 of about the asked size that no encoder can squeeze.
const seconds = 8;
await makeMp4(videoPath, {
  seconds,
  width: 640,
  height: 360,
  noise: true,
  faststart: true,
  bitrate: `${Math.round((videoMB * 8) / seconds)}M`,
});
const video = await readFile(videoPath);

const channelName = (index: number) => (index === 0 ? 'general' : `c${index}`);
const alice = '310000000000000001';
const env = { MAX_ACTIVE_PER_USER: String(videos), MAX_QUEUED_PER_USER: String(videos) };
const redis = testRedis();
const h = await startDiscordHarness(env, {
  users: [
    { id: alice, username: 'alice' },
    { id: '310000000000000002', username: 'bob' },
    { id: '310000000000000003', username: 'mod' },
  ],
  guilds: [
    {
      name: 'Studio',
      premiumTier: 2,
      roles: [{ id: MODERATORS_ROLE, name: 'Moderators', permissions: Perm.ManageMessages }],
      channels: Array.from({ length: videos }, (_, index) => ({ name: channelName(index) })),
      members: [
        { userId: alice },
        { userId: '310000000000000002' },
        { userId: '310000000000000003', roles: ['Moderators'] },
      ],
      botRoles: ['Moderators'],
    },
  ],
});
const service = await startScriptedService({ video, steps: 1, stepMs: 1 });
h.worker = await h.pipeline.startWorker(new ScriptedBackend(service.url), normaliseForChat, {
  ...FAST,
  concurrency: videos,
});

const bot = spawnTs('src/main.ts', {
  KINEMA_ROLE: 'bot',
  REDIS_URL: h.config.REDIS_URL,
  KINEMA_PREFIX: h.config.KINEMA_PREFIX,
  DISCORD_TOKEN: h.discord.token,
  DISCORD_APPLICATION_ID: h.discord.applicationId,
  DISCORD_GUILD_ID: h.discord.guild('Studio').id,
  DISCORD_API_URL: h.discord.apiUrl,
  MODERATION_IMAGES: 'false',
  HTTP_PORT: '0',
  LOG_LEVEL: 'info',
  ...env,
});
await waitForOutput(bot, 'discord bot ready', 60_000);
const rssOf = async (pid: number) => {
  const status = await readText(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
};
const pid = bot.child.pid!;

// Every render waits until all are submitted, then they finish together.
service.holdNewTasks(true);
const since = h.discord.requests.length;
for (let index = 0; index < videos; index += 1)
  h.burst(1, { users: [alice], channelId: h.discord.channelId(channelName(index)) });
await waitFor(() => service.tasks().length === videos, 'every render submitted', 60_000);
await sleep(1_000);
const rssBefore = await rssOf(pid);
const redisBefore = await redisUsedMemory(redis);
let rssPeak = rssBefore;
let redisPeak = redisBefore;
const sample = async () => {
  rssPeak = Math.max(rssPeak, await rssOf(pid));
  redisPeak = Math.max(redisPeak, await redisUsedMemory(redis));
};
const sampler = setInterval(() => void sample().catch(() => undefined), 50);
const start = Date.now();
service.holdNewTasks(false);
service.release();
const posted = () =>
  h.discord.requests.slice(since).filter((r) => r.fileCount > 0 && r.status > 0 && r.status < 300).length;
await waitFor(() => posted() >= videos, 'every video posted', 10 * 60_000);
const relayMs = Date.now() - start;
await sleep(3_000);
clearInterval(sampler);
const rssAfter = await rssOf(pid);
const redisAfter = await redisUsedMemory(redis);

const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;
console.log(
  `${videos} videos of ${mb((await stat(videoPath)).size)} at once, one channel each; bot in its own process (UPLOAD_MEMORY_MB default)`,
);
console.log(`relayed in ${(relayMs / 1000).toFixed(1)} s`);
console.log(
  `bot RSS growth: peak ${mb(rssPeak - rssBefore)}, 3 s after ${mb(rssAfter - rssBefore)} (from ${mb(rssBefore)})`,
);
console.log(
  `Redis used_memory growth: peak ${mb(redisPeak - redisBefore)}, 3 s after ${mb(redisAfter - redisBefore)}`,
);

await stopProcess(bot);
await h.worker.close();
await service.close();
await h.close(redis);
await media.cleanup();
await redis.quit();
process.exit(0);
