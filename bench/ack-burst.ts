/**
 * `npm run bench:ack-burst [-- commands=100 users=10]`
 * A burst of `/animate` from several users in one channel, through the real discord.js against the
 * fake Discord (test/fakes/discord) with Discord's unadvertised budget of 5 message creates or edits
 * per 5 s in a channel, an instant render service, the real worker and Redis (a unique prefix), and
 * the bot's production pacing, after one warm-up job (a running bot is not cold). Prints: the acks
 * (p50/p99 from each command's dispatch; the deferred public reply shows from then), the 429s the
 * fake served, when jobs were first drawn as a status, and when every video was posted, next to the
 * channel's floor (one counted operation per video at 5 per 5 s). Asserts nothing.
 */
import { DISCORD_CHANNEL_BUDGET } from '../test/fakes/discord/channel-budget.js';
import { type InvokedInteraction, Perm } from '../test/fakes/discord/index.js';
import { MODERATORS_ROLE, startDiscordHarness } from '../test/support/discord-harness.js';
import { waitFor } from '../test/support/processes.js';
import { testRedis } from '../test/support/redis.js';
import { percentile, sleep } from './figures.js';

const commands = Number(process.argv[2] ?? 100);
const userCount = Number(process.argv[3] ?? 10);

// alice, bob and mod are the harness's own; the rest make up the ten people of the burst.
const names = [
  'alice',
  'bob',
  'mod',
  ...Array.from({ length: Math.max(0, userCount - 3) }, (_, i) => `user${i + 4}`),
];
const users = names.map((username, index) => ({
  id: `3100000000000000${String(index + 1).padStart(2, '0')}`,
  username,
}));

const redis = testRedis();
const h = await startDiscordHarness(
  { MAX_ACTIVE_PER_USER: '100', MAX_QUEUED_PER_USER: '1000', WORKER_CONCURRENCY: '4' },
  {
    users,
    guilds: [
      {
        name: 'Studio',
        roles: [{ id: MODERATORS_ROLE, name: 'Moderators', permissions: Perm.ManageMessages }],
        channels: [{ name: 'general' }],
        members: users.map((user) => ({
          userId: user.id,
          ...(user.username === 'mod' ? { roles: ['Moderators'] } : {}),
        })),
        botRoles: ['Moderators'],
      },
    ],
  },
  // An instant render service; the bot's production cadence (a status edit at most every 5 s).
  { service: { steps: 1, stepMs: 1 }, bot: { statusIntervalMs: 5_000 } },
);
await h.startBot();
await h.startWorker(4);
const pickers = users.slice(0, userCount).map((user) => user.id);

// A running bot has served commands before: one job first, so the burst does not meet cold code.
const warmAt = Date.now();
const [warm] = h.burst(1);
await waitFor(() => h.discord.callbacks(warm!.id)[0], 'the warm-up ack');
const loneAckMs = h.discord.callbacks(warm!.id)[0]!.at - warmAt;
await waitFor(
  () => h.discord.requests.some((r) => r.fileCount > 0 && r.status > 0 && r.status < 300),
  'the warm-up video',
  60_000,
);
await h.channelIdle();

const since = h.discord.requests.length;
const invokedAt = new Map<string, number>();
const burst: InvokedInteraction[] = [];
const start = Date.now();
for (let index = 0; index < commands; index += 1) {
  const at = Date.now();
  const [invoked] = h.burst(1, { users: [pickers[index % pickers.length]!] });
  invokedAt.set(invoked!.id, at);
  burst.push(invoked!);
}
const tokens = new Map(burst.map((invoked) => [invoked.token, invoked.id]));

/** Successful requests that put a video into the channel (an edit of a status or a fresh post). */
const videoPosts = () =>
  h.discord.requests.slice(since).filter((r) => r.status > 0 && r.status < 300 && r.fileCount > 0);
const deadline = start + 15 * 60_000;
while (videoPosts().length < commands && Date.now() < deadline) await sleep(100);
const posts = videoPosts();
const allPostedMs = Math.max(...posts.map((r) => r.at)) - start;

const acks = burst.map((invoked) => {
  const ack = h.discord.callbacks(invoked.id)[0];
  return ack && ack.status < 300 ? ack.at - invokedAt.get(invoked.id)! : Number.NaN;
});
// A job's status is visible from the first successful message operation that draws it: an edit of
// its deferred reply (through its token), or any create or edit whose embed names the job.
const firstStatus = new Map<string, number>();
for (const request of h.discord.requests.slice(since)) {
  if (request.status >= 300 || request.status === 0 || !['PATCH', 'POST'].includes(request.method)) continue;
  const token = /^\/webhooks\/\d+\/([^/]+)\/messages\//.exec(request.path)?.[1];
  const named = /Job dc-(\d+) /.exec(JSON.stringify(request.json ?? ''))?.[1];
  const id = (token ? tokens.get(token) : undefined) ?? named;
  if (id && invokedAt.has(id) && !firstStatus.has(id)) firstStatus.set(id, request.at - start);
}
const statusTimes = [...firstStatus.values()];
const jobs = await Promise.all(burst.map((invoked) => h.pipeline.queue.queue.getJob(`dc-${invoked.id}`)));
const lastRenderMs = Math.max(...jobs.map((job) => job?.finishedOn ?? Number.NaN)) - start;
// The floor: one counted operation per video at the channel's budget; the first window is free.
const { count, windowMs } = DISCORD_CHANNEL_BUDGET;
const floorMs = Math.max(0, Math.ceil(commands / count) - 1) * windowMs;

const ms = (value: number) => `${value.toFixed(0)} ms`;
const s = (value: number) => `${(value / 1000).toFixed(1)} s`;
console.log(
  `burst: ${commands} /animate from ${pickers.length} users in one channel, budget ${count} per ${windowMs / 1000} s`,
);
console.log(`ack of a lone command (the warm-up): ${ms(loneAckMs)}`);
console.log(
  `ack: p50 ${ms(percentile(acks, 0.5))}, p99 ${ms(percentile(acks, 0.99))}, max ${ms(Math.max(...acks))} (${acks.filter(Number.isFinite).length} acked)`,
);
console.log(
  `429s served: ${h.discord.stats.rateLimited} (channel budget ${h.discord.stats.channelBudgetRefusals()}), met by the bot: ${h.bot!.scheduler.stats.rateLimited}`,
);
console.log(
  `status drawn (Queued or later; the deferred reply shows from the ack): first ${s(Math.min(...statusTimes))}, last ${s(Math.max(...statusTimes))}; within 5 s: ${statusTimes.filter((t) => t <= 5_000).length} of ${commands}`,
);
console.log(`last render done: ${s(lastRenderMs)}`);
console.log(
  `all videos posted: ${s(allPostedMs)} (${posts.length} of ${commands}); floor ${s(floorMs)}, ratio ${(allPostedMs / floorMs).toFixed(2)}×; ${s(allPostedMs - lastRenderMs)} after the last render`,
);

await h.worker?.close();
await h.close(redis);
await redis.quit();
process.exit(0);
