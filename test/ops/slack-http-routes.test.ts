import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SIGNING_SECRET } from '../fakes/slack/bolt-harness.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack/index.js';
import { type Spawned, spawnTs, stopProcess, waitForOutput } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

/**
 * With Slack on its HTTP receiver, Bolt owns HTTP_PORT: /metrics and /admin (GET and POST, bull-board
 * included) still reach Kinema through Bolt's custom routes.
 */
const redis = testRedis();
const prefix = uniquePrefix('slack-ops');
const ADMIN_TOKEN = 'slack-admin-token-0123456789abcdef';
let slack: FakeSlack;
let bot: Spawned;
let base: string;

beforeAll(async () => {
  slack = await startFakeSlack();
  bot = spawnTs('src/main.ts', {
    REDIS_URL: TEST_REDIS_URL,
    KINEMA_PREFIX: prefix,
    KINEMA_ROLE: 'bot',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    MODERATION_IMAGES: 'false',
    ADMIN_TOKEN,
    METRICS_TOKEN: '',
    DISCORD_TOKEN: '',
    SLACK_APP_TOKEN: '',
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
  });
  await waitForOutput(bot, 'chat platforms active');
  base = `http://127.0.0.1:${/"port":(\d+)/.exec(bot.output())![1]}`;
}, 60_000);

afterAll(async () => {
  await stopProcess(bot);
  await slack.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('/metrics and /admin behind Bolt', () => {
  it('serves the metrics, the login, a session and bull-board on the receiver port', async () => {
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^# TYPE kinema_ack_seconds histogram/m);

    const login = await fetch(`${base}/admin`);
    expect(login.status).toBe(200);
    const nonce = /name="nonce" value="([\w-]+)"/.exec(await login.text())![1]!;
    const loginCookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const form = new URLSearchParams({ token: ADMIN_TOKEN, nonce });
    const refused = await fetch(`${base}/admin/login`, { method: 'POST', body: form, redirect: 'manual' });
    expect(refused.status).toBe(403); // no nonce cookie: a forged login
    const loggedIn = await fetch(`${base}/admin/login`, {
      method: 'POST',
      body: form,
      headers: { cookie: loginCookie },
      redirect: 'manual',
    });
    expect(loggedIn.status).toBe(303);
    const session = loggedIn.headers
      .getSetCookie()
      .find((cookie) => cookie.startsWith('kinema_admin='))!
      .split(';')[0]!;

    const state = await fetch(`${base}/admin/api/state`, { headers: { cookie: session } });
    expect(state.status).toBe(200);
    expect(await state.json()).toMatchObject({ queue: { rendering: [], waiting: [] }, paused: {} });
    const board = await fetch(`${base}/admin/queues/`, { headers: { cookie: session } });
    expect(board.status).toBe(200);
    expect(await board.text()).toMatch(/<html/i);
    const boardApi = await fetch(`${base}/admin/queues/api/queues`, { headers: { cookie: session } });
    expect(boardApi.status).toBe(200);
    expect(JSON.stringify(await boardApi.json())).toContain('generate');
    // Even with the session's CSRF token, bull-board is read-only: Kinema's page is where one acts.
    const page = await (await fetch(`${base}/admin`, { headers: { cookie: session } })).text();
    const csrf = /name="csrf-token" content="([\w-]+)"/.exec(page)![1]!;
    const write = await fetch(`${base}/admin/queues/api/queues/pause`, {
      method: 'PUT',
      headers: { cookie: session, 'x-csrf-token': csrf },
    });
    expect(write.status).toBe(403);
    expect(await write.json()).toEqual({ message: 'the queue board is read-only; act from /admin' });
    expect(bot.output()).not.toContain(ADMIN_TOKEN);
  }, 30_000);
});
