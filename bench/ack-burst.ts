/**
 * `npm run bench:ack-burst [-- commands=100 users=10]`
 * A burst of `/animate` from several users in one channel. The bot runs alone in its own process
 * (`src/main.ts` with KINEMA_ROLE=bot and the production settings, logging at info), as in
 * production where Discord is elsewhere; this process holds the fake Discord (test/fakes/discord,
 * with Discord's unadvertised budget of 5 message creates or edits per 5 s in a channel), an instant
 * render service and the real worker, on the real Redis (a unique prefix). After a lone command and
 * ten more in another channel (a running bot is not cold) the fake's gateway sends the whole burst in one turn of its event loop.
 *
 * An ack's latency is measured on the fake's clock, as Discord would see it: from the gateway
 * sending the interaction to the fake receiving its callback (the defer; the public reply shows
 * from then). Prints the acks (p50/p99), the 429s the fake served, when jobs were first drawn as a
 * status, and when every video was posted, next to the channel's floor (one counted operation per
 * video at 5 per 5 s). Asserts nothing.
 *
 * The floor comes first, in the same run: before the bot starts, the same burst (after the same
 * warm-ups) is answered by bench/ack-floor-client.ts, which does nothing but defer each interaction
 * from its raw packet over ten kept-alive connections. Its figure is this fake's own time to send
 * the burst and take 100 callbacks on one thread; no bot measured here can ack faster.
 *
 * `-- 100 10 acks` stops once every command is acknowledged (the later figures are then empty).
 * BENCH_CPU_PROF=<dir> writes a CPU profile of the bot process there (node --cpu-prof), with
 * `ack-window.txt` beside it: the bot's time under the burst until the last ack, by function.
 */
import { readFile } from 'node:fs/promises';
import { DISCORD_CHANNEL_BUDGET } from '../test/fakes/discord/channel-budget.js';
import { type InvokedInteraction, Perm } from '../test/fakes/discord/index.js';
import { MODERATORS_ROLE, startDiscordHarness } from '../test/support/discord-harness.js';
import { spawnTs, stopProcess, waitFor, waitForOutput } from '../test/support/processes.js';
import { testRedis } from '../test/support/redis.js';
import { summariseProfile } from './cpu-profile.js';
import { percentile, sleep } from './figures.js';

const commands = Number(process.argv[2] ?? 100);
const userCount = Number(process.argv[3] ?? 10);
/** `acks`: stop once every command is acknowledged (for profiling the ack window). */
const acksOnly = process.argv[4] === 'acks';
const profileDir = process.env.BENCH_CPU_PROF;

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

const env = { MAX_ACTIVE_PER_USER: '100', MAX_QUEUED_PER_USER: '1000' };
const redis = testRedis();
const h = await startDiscordHarness(
  { ...env, WORKER_CONCURRENCY: '4' },
  {
    users,
    guilds: [
      {
        name: 'Studio',
        roles: [{ id: MODERATORS_ROLE, name: 'Moderators', permissions: Perm.ManageMessages }],
        channels: [{ name: 'general' }, { name: 'warmup' }],
        members: users.map((user) => ({
          userId: user.id,
          ...(user.username === 'mod' ? { roles: ['Moderators'] } : {}),
        })),
        botRoles: ['Moderators'],
      },
    ],
  },
  { service: { steps: 1, stepMs: 1 } },
);
await h.startWorker(4);
const pickers = users.slice(0, userCount).map((user) => user.id);
const succeeded = (status: number) => status > 0 && status < 300;
const ackOf = (invoked: InvokedInteraction) => {
  const ack = h.discord.callbacks(invoked.id)[0];
  return ack && succeeded(ack.status) ? ack.at - invoked.dispatchedAt : Number.NaN;
};
const discordEnv = {
  DISCORD_TOKEN: h.discord.token,
  DISCORD_APPLICATION_ID: h.discord.applicationId,
  DISCORD_GUILD_ID: h.discord.guild('Studio').id,
  DISCORD_API_URL: h.discord.apiUrl,
};
/** The burst, sent in one turn of the fake's event loop; resolves once every command is acknowledged. */
const sendBurst = async () => {
  const burst: InvokedInteraction[] = [];
  const start = Date.now();
  for (let index = 0; index < commands; index += 1)
    burst.push(...h.burst(1, { users: [pickers[index % pickers.length]!] }));
  const sentMs = Date.now() - start;
  await waitFor(() => burst.every((invoked) => h.discord.callbacks(invoked.id)[0]), 'every ack', 60_000);
  const lastAckAt = Math.max(...burst.map((invoked) => h.discord.callbacks(invoked.id)[0]!.at));
  return { burst, start, sentMs, lastAckAt, acks: burst.map(ackOf) };
};

// The floor first: the same burst answered by a client that only defers (bench/ack-floor-client.ts),
// after a lone command and ten more as for the bot. What it measures is this fake's own time.
const floorClient = spawnTs('bench/ack-floor-client.ts', discordEnv);
await waitForOutput(floorClient, 'floor client ready', 60_000);
for (let index = 0; index <= 10; index += 1) {
  const [one] = h.burst(1, { channelId: h.discord.channelId('warmup') });
  await waitFor(() => h.discord.callbacks(one!.id)[0], 'a warm-up ack of the floor client');
  await sleep(100);
}
const floor = await sendBurst();
await stopProcess(floorClient);

const bot = spawnTs(
  'src/main.ts',
  {
    KINEMA_ROLE: 'bot',
    REDIS_URL: h.config.REDIS_URL,
    KINEMA_PREFIX: h.config.KINEMA_PREFIX,
    ...discordEnv,
    MODERATION_IMAGES: 'false',
    HTTP_PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    ...env,
  },
  [],
  profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
);
await waitForOutput(bot, 'discord bot ready', 60_000);
const metricsPort = Number(/"port":(\d+)[^\n]*HTTP: \/healthz/.exec(bot.output())?.[1]);

// A running bot has served commands before (its code is compiled by now): a lone command first,
// then a few more, one every 100 ms in another channel (paced apart from the burst's).
const warmups = 10;
const [warm] = h.burst(1);
await waitFor(() => h.discord.callbacks(warm!.id)[0], 'the warm-up ack');
const loneAckMs = ackOf(warm!);
for (let index = 0; index < warmups; index += 1) {
  h.burst(1, { users: [pickers[index % pickers.length]!], channelId: h.discord.channelId('warmup') });
  await sleep(100);
}
await waitFor(
  () => h.discord.requests.filter((r) => r.fileCount > 0 && succeeded(r.status)).length > warmups,
  'the warm-up videos',
  120_000,
);
// Until the channel's budget is free again (nothing created or edited in the last window).
await waitFor(
  () => {
    const last = h.discord.requests.findLast((r) => ['PATCH', 'POST'].includes(r.method));
    return !last || Date.now() - last.at > DISCORD_CHANNEL_BUDGET.windowMs;
  },
  'an idle channel',
  30_000,
);

// The bot's CPU time (user + system, from /proc), sampled every few ms through the ack window.
const ticksMs = 1000 / 100; // USER_HZ
const cpuMs = async () => {
  const fields = (await readFile(`/proc/${bot.child.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * ticksMs;
};
const cpuSamples: { at: number; ms: number }[] = [];
let sampling = true;
const sampleCpu = async () => {
  while (sampling) {
    cpuSamples.push({ at: Date.now(), ms: await cpuMs() });
    await sleep(2);
  }
};
const cpuAt = (at: number) => cpuSamples.findLast((sample) => sample.at <= at)?.ms ?? Number.NaN;

const since = h.discord.requests.length;
const sampler = sampleCpu();
await sleep(20);
const { burst, start, sentMs, lastAckAt, acks } = await sendBurst();
sampling = false;
await sampler;
const ackCpuMs =
  (cpuSamples.find((sample) => sample.at >= lastAckAt) ?? cpuSamples.at(-1)!).ms - cpuAt(start);
const tokens = new Map(burst.map((invoked) => [invoked.token, invoked.id]));

/** Successful requests that put a video into the channel (an edit of a status or a fresh post). */
const videoPosts = () =>
  h.discord.requests.slice(since).filter((r) => succeeded(r.status) && r.fileCount > 0);
const deadline = acksOnly ? 0 : start + 15 * 60_000;
while (videoPosts().length < commands && Date.now() < deadline) await sleep(100);
const posts = videoPosts();
const allPostedMs = Math.max(...posts.map((r) => r.at)) - start;

// A job's status is visible from the first successful message operation that draws it: an edit of
// its deferred reply (through its token), or any create or edit whose embed names the job.
const firstStatus = new Map<string, number>();
for (const request of h.discord.requests.slice(since)) {
  if (!succeeded(request.status) || !['PATCH', 'POST'].includes(request.method)) continue;
  const token = /^\/webhooks\/\d+\/([^/]+)\/messages\//.exec(request.path)?.[1];
  const named = /Job dc-(\d+) /.exec(JSON.stringify(request.json ?? ''))?.[1];
  const id = (token ? tokens.get(token) : undefined) ?? named;
  if (id && burst.some((invoked) => invoked.id === id) && !firstStatus.has(id))
    firstStatus.set(id, request.at - start);
}
const statusTimes = [...firstStatus.values()];
const jobs = await Promise.all(burst.map((invoked) => h.pipeline.queue.queue.getJob(`dc-${invoked.id}`)));
const lastRenderMs = Math.max(...jobs.map((job) => job?.finishedOn ?? Number.NaN)) - start;
// The floor: one counted operation per video at the channel's budget; the first window is free.
const { count, windowMs } = DISCORD_CHANNEL_BUDGET;
const floorMs = Math.max(0, Math.ceil(commands / count) - 1) * windowMs;
const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
  (response) => response.text(),
  () => '',
);
const botMet = /^kinema_chat_rate_limited_total\{platform="discord"\} (\d+)/m.exec(metrics)?.[1] ?? '0';

const ms = (value: number) => `${value.toFixed(0)} ms`;
const s = (value: number) => `${(value / 1000).toFixed(1)} s`;
console.log(
  `burst: ${commands} /animate from ${pickers.length} users in one channel, budget ${count} per ${windowMs / 1000} s; bot in its own process`,
);
console.log(`ack of a lone command (the warm-up): ${ms(loneAckMs)}`);
console.log(
  `ack (gateway send → callback received, the fake's clock): p50 ${ms(percentile(acks, 0.5))}, p99 ${ms(percentile(acks, 0.99))}, max ${ms(Math.max(...acks))} (${acks.filter(Number.isFinite).length} acked); burst sent in ${ms(sentMs)}, last ack ${ms(lastAckAt - start)} after the first send`,
);
console.log(
  `floor (the same burst answered by a client that only defers, before the bot started): p50 ${ms(percentile(floor.acks, 0.5))}, p99 ${ms(percentile(floor.acks, 0.99))}; burst sent in ${ms(floor.sentMs)}, last ack ${ms(floor.lastAckAt - floor.start)} after the first send`,
);
console.log(
  `bot CPU from the first send to the last ack: ${ms(ackCpuMs)} (${(ackCpuMs / commands).toFixed(2)} ms a command; /proc, 10 ms ticks)`,
);
console.log(
  `429s served: ${h.discord.stats.rateLimited} (channel budget ${h.discord.stats.channelBudgetRefusals()}), met by the bot: ${botMet}`,
);
console.log(
  `status drawn (Queued or later; the deferred reply shows from the ack): first ${s(Math.min(...statusTimes))}, last ${s(Math.max(...statusTimes))}; within 5 s: ${statusTimes.filter((t) => t <= 5_000).length} of ${commands}`,
);
console.log(`last render done: ${s(lastRenderMs)}`);
console.log(
  `all videos posted: ${s(allPostedMs)} (${posts.length} of ${commands}); floor ${s(floorMs)}, ratio ${(allPostedMs / floorMs).toFixed(2)}×; ${s(allPostedMs - lastRenderMs)} after the last render`,
);

await stopProcess(bot);
if (profileDir) {
  console.log(`ack window (wall clock): ${start}..${lastAckAt}`);
  console.log(await summariseProfile(profileDir, { from: start, to: lastAckAt }));
}
await h.worker?.close();
await h.close(redis);
await redis.quit();
process.exit(0);
