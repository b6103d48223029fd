import type { AddressInfo } from 'node:net';
import { App, type CustomRoute, webApi } from '@slack/bolt';
import type { PlatformContext, PlatformHandle } from '../platform.js';
import { AckGate } from '../shared/ack-gate.js';
import { deliverOutcome } from '../shared/delivery.js';
import type { SendScheduler } from '../shared/send-scheduler.js';
import { register as registerButtons } from './actions/job-buttons.js';
import { boltLogger } from './bolt-logger.js';
import { register as registerAnimateCommand } from './commands/animate.js';
import type { SlackContext, SlackIdentity } from './context.js';
import { SlackDeliverer } from './deliverer.js';
import { register as registerDedupe } from './events/dedupe.js';
import { register as registerMentions } from './events/mentions.js';
import { register as registerReactions } from './events/reactions.js';
import { slackAccess } from './intake.js';
import { SLACK_EDITS_PER_MINUTE, SlackSender } from './sender.js';
import { register as registerAnimateShortcut } from './shortcuts/animate-message.js';
import { SlackStatusSink, slackErrorCode } from './status-sink.js';
import { SlackMessages } from './store.js';
import { SlackUsers } from './users.js';
import { register as registerAnimateView } from './views/animate-modal.js';
import { register as registerExtend } from './views/extend-modal.js';
import { register as registerRemix } from './views/remix-modal.js';

export interface SlackStartOptions {
  /** Least time between two edits of one status message (default 10 s). */
  statusIntervalMs?: number;
  /** Edits per minute shared by all jobs of the workspace (default 40; chat.update is Tier 3). */
  editsPerMinute?: number;
}

export interface SlackHandle extends PlatformHandle {
  app: App;
  /** The send scheduler: its `stats` (429s, coalesced edits) and budgets. */
  scheduler: SendScheduler;
  mode: 'socket' | 'http';
  /** The HTTP receiver's port (HTTP mode). */
  port?: number;
  identity: SlackIdentity;
}

const SLACK_FILE_HOSTS = ['files.slack.com'];

/**
 * Starts the Slack side: Bolt in Socket Mode when SLACK_APP_TOKEN is set, otherwise Bolt's HTTP
 * receiver on HTTP_PORT (signatures verified; /healthz and /videos/… mounted beside
 * /slack/events). Then listeners by feature, status tracking and delivery.
 */
export async function startSlack(
  platform: PlatformContext,
  options: SlackStartOptions = {},
): Promise<SlackHandle> {
  const { config, service } = platform;
  const log = platform.log.child({ platform: 'slack' });
  const token = config.SLACK_BOT_TOKEN;
  if (!token) throw new Error('SLACK_BOT_TOKEN is not set');
  const socketMode = Boolean(config.SLACK_APP_TOKEN);
  const logger = boltLogger(log);
  const slackApiUrl = config.SLACK_API_URL
    ? config.SLACK_API_URL.endsWith('/')
      ? config.SLACK_API_URL
      : `${config.SLACK_API_URL}/`
    : undefined;
  // A fresh object each time: Bolt and Socket Mode write into the options they are given.
  const clientOptions = (extra: webApi.WebClientOptions = {}): webApi.WebClientOptions => ({
    ...(slackApiUrl ? { slackApiUrl } : {}),
    logger,
    ...extra,
  });

  const identity = await whoAmI(new webApi.WebClient(token, clientOptions({ retryConfig: { retries: 2 } })));
  const routes: CustomRoute[] = [
    { path: '/healthz', method: ['GET'], handler: (req, res) => serve(platform, req, res) },
    { path: '/videos/:token/:name', method: ['GET'], handler: (req, res) => serve(platform, req, res) },
    { path: '/metrics', method: ['GET', 'HEAD'], handler: (req, res) => serve(platform, req, res) },
    {
      path: '/admin{/*rest}',
      method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      handler: (req, res) => serve(platform, req, res),
    },
  ];
  // botId and botUserId given: Bolt skips its own auth.test.
  const app = socketMode
    ? new App({
        token,
        appToken: config.SLACK_APP_TOKEN,
        socketMode: true,
        botId: identity.botId,
        botUserId: identity.botUserId,
        logger,
        clientOptions: clientOptions(),
      })
    : new App({
        token,
        signingSecret: config.SLACK_SIGNING_SECRET,
        botId: identity.botId,
        botUserId: identity.botUserId,
        logger,
        clientOptions: clientOptions(),
        customRoutes: routes,
      });

  const ttl = config.STORAGE_TTL_DAYS * 86_400;
  const fileHosts = [...SLACK_FILE_HOSTS];
  if (slackApiUrl) fileHosts.push(new URL(slackApiUrl).hostname);
  const clients = {
    web: app.client,
    // A 429 here comes back at once: the progress edit waits in the scheduler, never in the client.
    progress: new webApi.WebClient(
      token,
      clientOptions({ rejectRateLimitedCalls: true, retryConfig: { retries: 1 } }),
    ),
    delivery: new webApi.WebClient(
      token,
      clientOptions({ retryConfig: webApi.retryPolicies.fiveRetriesInFiveMinutes }),
    ),
  };
  const context = {
    config,
    log,
    service,
    messages: new SlackMessages(platform.redis, config.KINEMA_PREFIX, ttl),
    users: new SlackUsers(app.client, log),
    clients,
    identity,
    access: slackAccess(config),
    links: platform.links,
    fileHosts,
    botToken: token,
    sender: new SlackSender(identity.teamId, options.editsPerMinute ?? SLACK_EDITS_PER_MINUTE, [
      clients.web,
      clients.delivery,
    ]),
    acks: new AckGate('slack'),
  } as SlackContext;
  const sink = new SlackStatusSink(context);
  context.feed = service.feed('slack', sink, { statusIntervalMs: options.statusIntervalMs ?? 10_000 });
  const deliverer = new SlackDeliverer(context, sink);

  registerDedupe(app, context);
  registerAnimateCommand(app, context);
  registerAnimateShortcut(app, context);
  registerAnimateView(app, context);
  registerMentions(app, context);
  registerReactions(app, context);
  registerButtons(app, context);
  registerRemix(app, context);
  registerExtend(app, context);
  app.error(async (error) => {
    log.error({ err: error, code: (error as { code?: unknown }).code }, 'slack listener failed');
  });

  let port: number | undefined;
  if (socketMode) {
    await app.start();
  } else {
    const server = await app.start(config.HTTP_PORT);
    port = (server.address() as AddressInfo).port;
  }
  await context.feed.start((delivery) => deliverOutcome(deliverer, context.feed, log, delivery));
  log.info(
    { mode: socketMode ? 'socket' : 'http', team: identity.teamId, botUserId: identity.botUserId, port },
    socketMode
      ? 'slack bot ready (Socket Mode)'
      : 'slack bot ready (HTTP receiver: /slack/events, /healthz, /videos/…)',
  );
  return {
    name: 'slack',
    servesHttp: !socketMode,
    app,
    mode: socketMode ? 'socket' : 'http',
    port,
    identity,
    scheduler: context.sender.scheduler,
    async stop() {
      await context.feed.close();
      context.sender.scheduler.close();
      await app.stop();
    },
  };
}

async function whoAmI(client: webApi.WebClient): Promise<SlackIdentity> {
  try {
    const auth = await client.auth.test();
    if (!auth.user_id || !auth.team_id) throw new Error('auth.test did not name the bot user');
    return {
      botUserId: auth.user_id,
      botId: auth.bot_id ?? '',
      teamId: auth.team_id,
      ...(auth.url ? { url: auth.url } : {}),
    };
  } catch (error) {
    const code = slackErrorCode(error);
    throw new Error(
      code
        ? `Slack refused SLACK_BOT_TOKEN (${code}); use the app's Bot User OAuth Token (xoxb-…)`
        : `Slack could not be reached to check SLACK_BOT_TOKEN (${(error as Error).message})`,
    );
  }
}

/** The service's own routes on the receiver's port; anything else is a 404. */
function serve(
  platform: PlatformContext,
  req: Parameters<PlatformContext['httpRoutes']>[0],
  res: Parameters<PlatformContext['httpRoutes']>[1],
): void {
  platform.httpRoutes(req, res).then(
    (handled) => {
      if (!handled) res.writeHead(404).end();
    },
    () => {
      if (!res.headersSent) res.writeHead(500).end();
    },
  );
}
