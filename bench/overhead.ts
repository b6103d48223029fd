/**
 * `npm run bench:overhead [-- jobs=20]`
 * The bot's own time per job with an instant render service: from the moment the backend reports
 * the task done to the moment the mp4 is in the job's status message on the fake Discord (real
 * discord.js, worker, delivery queue and Redis with a unique prefix). Jobs run one at a time, each
 * in its own channel so the channel's budget never makes one wait. The worker prepares results as
 * in production (`prepareForDelivery`: probe, remux if needed; the poster and last frame once the
 * video is handed to delivery). Prints the median and p95, the median of each step in between, and
 * how long after the post the stills were stored. Asserts nothing.
 */
import { Queue } from 'bullmq';
import type { BackendJob, VideoBackend } from '../src/backends/backend.js';
import type { RemoteTaskRef } from '../src/core/job.js';
import { prepareForDelivery } from '../src/media/video.js';
import { deliveryQueueName } from '../src/queue/connection.js';
import { Perm } from '../test/fakes/discord/index.js';
import { FAST, MODERATORS_ROLE, startDiscordHarness } from '../test/support/discord-harness.js';
import { waitFor } from '../test/support/processes.js';
import { testRedis } from '../test/support/redis.js';
import { ScriptedBackend } from '../test/support/scripted-backend.js';
import { median, percentile } from './figures.js';

const jobs = Number(process.argv[2] ?? 20);
const warmup = 2;
// One channel per job ('general' is the harness's own and takes the first).
const channelName = (index: number) => (index === 0 ? 'general' : `c${index}`);
const channels = Array.from({ length: jobs + warmup }, (_, index) => ({ name: channelName(index) }));

const redis = testRedis();
const h = await startDiscordHarness(
  {},
  {
    users: [
      { id: '310000000000000001', username: 'alice' },
      { id: '310000000000000002', username: 'bob' },
      { id: '310000000000000003', username: 'mod' },
    ],
    guilds: [
      {
        name: 'Studio',
        roles: [{ id: MODERATORS_ROLE, name: 'Moderators', permissions: Perm.ManageMessages }],
        channels,
        members: [
          { userId: '310000000000000001' },
          { userId: '310000000000000002' },
          { userId: '310000000000000003', roles: ['Moderators'] },
        ],
        botRoles: ['Moderators'],
      },
    ],
  },
  { service: { steps: 1, stepMs: 1 }, bot: { statusIntervalMs: 5_000 } },
);

/** Each job's moments, in the order they happen. */
type Mark =
  | 'done'
  | 'downloaded'
  | 'prepared'
  | 'stored'
  | 'picked'
  | 'readBack'
  | 'uploading'
  | 'posted'
  | 'stills';
const marks = new Map<string, Partial<Record<Mark, number>>>();
let current = '';
const mark = (what: Mark, jobId = current) => {
  const entry = marks.get(jobId) ?? {};
  entry[what] = performance.timeOrigin + performance.now();
  marks.set(jobId, entry);
};

const scripted = new ScriptedBackend(h.service.url, 5);
const backend: VideoBackend = {
  name: scripted.name,
  describeIgnored: () => [],
  submit: (job, hooks, signal) => scripted.submit(job, hooks, signal),
  cancel: (ref, log) => scripted.cancel(ref, log),
  download: (output, signal) => scripted.download(output, signal),
  async *follow(ref: RemoteTaskRef, job: BackendJob, signal: AbortSignal) {
    for await (const event of scripted.follow(ref, job, signal)) {
      if (event.type === 'completed') {
        current = job.jobId;
        mark('done');
      }
      yield event;
    }
  },
};
const putStream = h.pipeline.blobs.putStream.bind(h.pipeline.blobs);
h.pipeline.blobs.putStream = async (...args: Parameters<typeof putStream>) => {
  const result = await putStream(...args);
  // The video is what the post waits for; its poster and last frame come after it.
  const [, kind, jobId] = /^(result|poster|last-frame)-(.+)$/.exec(args[0]) ?? [];
  if (kind === 'result') mark('stored', jobId);
  else if (kind === 'last-frame') mark('stills', jobId); // stored after the poster
  return result;
};

await h.startBot();
const openResult = h.api!.openResult.bind(h.api);
h.api!.openResult = (videoKey: string) => {
  mark('readBack');
  return openResult(videoKey);
};
h.bot!.scheduler.watch((event) => {
  if (event.type === 'started' && event.priority === 'urgent') mark('uploading');
});
h.worker = await h.pipeline.startWorker(
  backend,
  async (input, output) => {
    mark('downloaded');
    const prepared = await prepareForDelivery(input, output);
    mark('prepared');
    return prepared;
  },
  { ...FAST, concurrency: 2 },
);

const deliveries = new Queue(deliveryQueueName('discord'), {
  connection: h.pipeline.connection,
  prefix: h.config.KINEMA_PREFIX,
});
const ids: string[] = [];
for (let index = 0; index < jobs + warmup; index += 1) {
  const channelId = h.discord.channelId(channelName(index));
  const [invoked] = h.burst(1, { channelId });
  const jobId = `dc-${invoked!.id}`;
  const message = await waitFor(
    () =>
      h.discord
        .messages(channelId)
        .find(
          (m) => m.authorId === h.discord.botUserId && m.attachments.some((a) => a.filename.endsWith('.mp4')),
        ),
    `the video of ${jobId}`,
    60_000,
  );
  marks.get(jobId)!.posted = message.editedAt ?? message.createdAt;
  marks.get(jobId)!.picked = (await deliveries.getJob(`deliver-${jobId}`))?.processedOn;
  if (index >= warmup) ids.push(jobId);
}

await waitFor(() => marks.get(ids.at(-1)!)?.stills, 'the last stills', 10_000);
const steps: [string, Mark, Mark][] = [
  ['download from the backend to disk', 'done', 'downloaded'],
  ['prepare for chat (probe; stills come after)', 'downloaded', 'prepared'],
  ['store the video in Redis, announce stills', 'prepared', 'stored'],
  ['delivery queue to the bot', 'stored', 'picked'],
  ['find the channel and status', 'picked', 'readBack'],
  ['read back to disk, caption, schedule', 'readBack', 'uploading'],
  ['upload into the status message', 'uploading', 'posted'],
];
const total = ids.map((id) => marks.get(id)!.posted! - marks.get(id)!.done!);
const ms = (value: number) => `${value.toFixed(0)} ms`;
console.log(
  `jobs: ${jobs} (after ${warmup} warm-up), one at a time, result ${(h.video.length / 1024).toFixed(0)} KiB`,
);
console.log(
  `overhead (task done → mp4 posted): median ${ms(median(total))}, p95 ${ms(percentile(total, 0.95))}, min ${ms(Math.min(...total))}, max ${ms(Math.max(...total))}`,
);
console.log('where it goes (median per step):');
for (const [label, from, to] of steps) {
  const spans = ids.map((id) => marks.get(id)![to]! - marks.get(id)![from]!);
  console.log(`  ${label.padEnd(44)} ${ms(median(spans)).padStart(7)}`);
}
const stillsAfter = ids.map((id) => marks.get(id)!.stills! - marks.get(id)!.posted!);
console.log(
  `poster and last frame stored, after the post (median, max): ${ms(median(stillsAfter))}, ${ms(Math.max(...stillsAfter))}`,
);

await deliveries.close();
await h.worker.close();
await h.close(redis);
await redis.quit();
process.exit(0);
