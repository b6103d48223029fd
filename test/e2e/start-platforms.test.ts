import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeDiscord, startFakeDiscord } from '../fakes/discord/index.js';
import { TEST_SIGNING_SECRET } from '../fakes/slack/bolt-harness.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack/index.js';
import { type Spawned, spawnTs, stopProcess, waitForOutput } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

/** `npm start` as a user runs it: the Slack side alone, or beside Discord, chosen by the credentials. */
const redis = testRedis();
const prefix = uniquePrefix('slack-start');
let slack: FakeSlack;
let discord: FakeDiscord;
const processes: Spawned[] = [];

function start(env: Record<string, string>) {
  const spawned = spawnTs('src/main.ts', {
    REDIS_URL: TEST_REDIS_URL,
    KINEMA_PREFIX: prefix,
    KINEMA_ROLE: 'bot',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    // Only what each case sets: never a developer's real credentials.
    DISCORD_TOKEN: '',
    SLACK_BOT_TOKEN: '',
    SLACK_APP_TOKEN: '',
    SLACK_SIGNING_SECRET: '',
    ...env,
  });
  processes.push(spawned);
  return spawned;
}

beforeAll(async () => {
  slack = await startFakeSlack();
  discord = await startFakeDiscord({ users: [{ id: '330000000000000001', username: 'alice' }] });
});

afterAll(async () => {
  await Promise.all(processes.map((spawned) => stopProcess(spawned)));
  await slack.close();
  await discord.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('npm start with Slack credentials', () => {
  it('runs the Slack side alone on the HTTP receiver, serving /healthz on the same port, and stops cleanly', async () => {
    const bot = start({
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
    });
    await waitForOutput(bot, 'chat platforms active');
    expect(bot.output()).toMatch(/"platforms":\["slack"\]/);
    const port = Number(/"port":(\d+)/.exec(bot.output())?.[1]);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(await health.text()).toBe('ok');
    expect(bot.output()).not.toMatch(/HTTP: \/healthz/); // main did not bind a second server
    expect(bot.output()).not.toContain(slack.botToken);
    await stopProcess(bot);
    expect(await bot.exited).toBe(0);
  });

  it('runs Slack in Socket Mode beside Discord, and says which platforms are active', async () => {
    const bot = start({
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_APP_TOKEN: slack.appToken,
      SLACK_API_URL: slack.apiUrl,
      DISCORD_TOKEN: discord.token,
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_API_URL: discord.apiUrl,
    });
    await waitForOutput(bot, 'chat platforms active');
    expect(bot.output()).toMatch(/"platforms":\["discord","slack"\]/);
    expect(bot.output()).toMatch(/Socket Mode/);
    expect(bot.output()).not.toContain(slack.appToken);
    expect(slack.socketConnections().some((connection) => connection.open)).toBe(true);
    await stopProcess(bot);
    expect(await bot.exited).toBe(0);
  });
});
