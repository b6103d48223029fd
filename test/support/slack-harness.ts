import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { type Config, parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { normaliseForChat } from '../../src/media/video.js';
import { Pipeline } from '../../src/pipeline.js';
import { type SlackHandle, type SlackStartOptions, startSlack } from '../../src/platforms/slack/index.js';
import type { GenerationWorker } from '../../src/queue/generation-worker.js';
import type { GenerationService, ServiceSettings } from '../../src/service/generation-service.js';
import { PublicLinks } from '../../src/service/public-links.js';
import { TEST_SIGNING_SECRET } from '../fakes/slack/bolt-harness.js';
import {
  type DeliveryTarget,
  type FakeMessage,
  type FakeSlack,
  startFakeSlack,
} from '../fakes/slack/index.js';
import { makeMp4, makePng, tempDir } from './media.js';
import { cleanPrefix, TEST_REDIS_URL, uniquePrefix } from './redis.js';
import { ScriptedBackend } from './scripted-backend.js';
import { type ScriptedService, startScriptedService } from './scripted-service.js';
import { serviceFor } from './service.js';

export type SlackMode = 'http' | 'socket';

/** Short worker timings, as in the Discord harness; one job at a time so queue positions are predictable. */
export const FAST = {
  lockDurationMs: 1_500,
  stalledIntervalMs: 1_000,
  progressIntervalMs: 0,
  concurrency: 1,
};

/** Everything a Slack test needs: a fake Slack, a scripted render service, a worker, the real Bolt app. */
export interface SlackHarness {
  mode: SlackMode;
  slack: FakeSlack;
  service: ScriptedService;
  pipeline: Pipeline;
  config: Config;
  video: Buffer;
  png: Buffer;
  channel: string;
  userId: string;
  otherUserId: string;
  adminId: string;
  target: DeliveryTarget;
  bot?: SlackHandle;
  /** The service the running bot uses (its admin and member views). */
  api?: GenerationService;
  worker?: GenerationWorker;
  startBot(): Promise<SlackHandle>;
  stopBot(): Promise<void>;
  startWorker(): Promise<GenerationWorker>;
  close(redis: Redis): Promise<void>;
  /** Messages the bot posted in the channel (thread replies included). */
  botMessages(): FakeMessage[];
  /** The status message of a job (it names the job in its context line). */
  statusOf(jobId: string): FakeMessage | undefined;
  /** The bold first line of a message's first section. */
  headline(ts: string): string;
  /** The message sharing a job's mp4 (its Rerun button carries the job id). */
  videoOf(jobId: string): FakeMessage | undefined;
  videoPosts(): FakeMessage[];
}

const blocksOf = (message: FakeMessage | undefined) =>
  (message?.blocks ?? []) as Array<Record<string, unknown>>;

export async function startSlackHarness(
  mode: SlackMode,
  env: Record<string, string> = {},
  options: { bot?: SlackStartOptions; api?: Partial<ServiceSettings> } = {},
): Promise<SlackHarness> {
  const prefix = uniquePrefix(`slack-${mode}`);
  const media = await tempDir(`slack-${mode}`);
  const videoPath = join(media.dir, 'served.mp4');
  await makeMp4(videoPath, { seconds: 1, width: 320, height: 240, faststart: true });
  const video = await readFile(videoPath);
  const png = await makePng(320, 240);
  const slack = await startFakeSlack();
  slack.addUser({ id: 'U0OTHERUSER', name: 'bob', real_name: 'Bob' });
  slack.addUser({ id: 'U0ADMINUSER', name: 'ada', real_name: 'Ada Admin', is_admin: true });
  const service = await startScriptedService({ video, steps: 6, stepMs: 60 });
  const config = parseConfig({
    KINEMA_ROLE: 'bot',
    REDIS_URL: TEST_REDIS_URL,
    KINEMA_PREFIX: prefix,
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_API_URL: slack.apiUrl,
    ...(mode === 'socket'
      ? { SLACK_APP_TOKEN: slack.appToken }
      : { SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET }),
    HTTP_PORT: '0',
    MAX_ACTIVE_PER_USER: '20',
    MAX_QUEUED_PER_USER: '50',
    // The classifier is tested where it matters (moderation tests turn it on); elsewhere it only slows.
    MODERATION_IMAGES: 'false',
    ...env,
  });
  const log = createLogger(process.env.KINEMA_TEST_LOG ?? 'silent');
  const pipeline = new Pipeline({
    redisUrl: TEST_REDIS_URL,
    prefix,
    log,
    backoffMs: 50,
    community: { env: config, defaultModel: 'wan2.1' },
  });
  const links = new PublicLinks(pipeline.connection, prefix, pipeline.blobs, undefined, 3600);
  const httpRoutes = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return true;
    }
    return links.handle(req, res);
  };
  const harness: SlackHarness = {
    mode,
    slack,
    service,
    pipeline,
    config,
    video,
    png,
    channel: slack.defaultChannelId,
    userId: slack.defaultUserId,
    otherUserId: 'U0OTHERUSER',
    adminId: 'U0ADMINUSER',
    target: { mode: 'socket' },
    async startBot() {
      harness.api = serviceFor(pipeline, config, options.api);
      harness.bot = await startSlack(
        {
          config,
          service: harness.api,
          redis: pipeline.connection,
          log,
          links,
          httpRoutes,
        },
        { statusIntervalMs: 150, ...options.bot },
      );
      harness.target =
        mode === 'socket'
          ? { mode: 'socket' }
          : {
              mode: 'http',
              url: `http://127.0.0.1:${harness.bot.port}/slack/events`,
              signingSecret: TEST_SIGNING_SECRET,
            };
      return harness.bot;
    },
    async stopBot() {
      if (!harness.bot) return;
      await harness.bot.stop();
      if (mode === 'socket') await slack.waitForSocketDisconnect();
      harness.bot = undefined;
    },
    async startWorker() {
      harness.worker = await pipeline.startWorker(new ScriptedBackend(service.url), normaliseForChat, FAST);
      return harness.worker;
    },
    async close(redis) {
      await harness.stopBot();
      await pipeline.close();
      await slack.close();
      await service.close();
      await media.cleanup();
      await cleanPrefix(redis, prefix);
    },
    botMessages: () => slack.messages(harness.channel).filter((m) => m.user === slack.botUserId),
    statusOf: (jobId) =>
      harness
        .botMessages()
        .find(
          (m) =>
            m.source === 'chat.postMessage' && JSON.stringify(m.blocks ?? []).includes(`Job \`${jobId}\``),
        ),
    headline(ts) {
      const first = blocksOf(slack.message(harness.channel, ts))[0] as
        | { text?: { text?: string } }
        | undefined;
      return (first?.text?.text ?? '').split('\n')[0]!.replace(/^\*|\*$/g, '');
    },
    videoPosts: () => harness.botMessages().filter((m) => m.files?.some((f) => f.name.endsWith('.mp4'))),
    videoOf: (jobId) =>
      harness
        .videoPosts()
        .find((m) =>
          blocksOf(m).some(
            (b) =>
              b.type === 'actions' &&
              (b.elements as Array<{ action_id?: string; value?: string }>).some(
                (e) => e.action_id === 'kinema_rerun' && e.value === jobId,
              ),
          ),
        ),
  };
  return harness;
}
