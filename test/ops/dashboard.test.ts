import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../fakes/comfyui/index.js';
import { type FakeDiscord, startFakeDiscord } from '../fakes/discord/index.js';
import { chromiumPath } from '../support/chromium.js';
import { makeMp4, makePng, tempDir } from '../support/media.js';
import { type Spawned, spawnTs, stopProcess, waitForOutput } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

/**
 * The web dashboard in a real headless Chromium (Debian's, driven by playwright-core), against
 * `npm start` with ADMIN_TOKEN: a slow render on the fake ComfyUI runs while the operator watches.
 */
const redis = testRedis();
const prefix = uniquePrefix('dashboard');
const ALICE = '350000000000000001';
const ADMIN_TOKEN = 'dashboard-admin-token-0123456789';
let discord: FakeDiscord;
let comfy: FakeComfy;
let browser: Browser;
let kinema: Spawned;
let base: string;
let channelId: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const media = await tempDir('dashboard');
  cleanup = media.cleanup;
  await makeMp4(join(media.dir, 'served.mp4'), { seconds: 1, faststart: true });
  const video = await readFile(join(media.dir, 'served.mp4'));
  // About 40 s of sampling: long enough to watch the percent move, then cancel it.
  comfy = await startFakeComfy({ video, steps: 200, stepDelayMs: 200 });
  discord = await startFakeDiscord({ users: [{ id: ALICE, username: 'alice' }] });
  channelId = discord.guild().channels.find((channel) => channel.type === 0)!.id;
  kinema = spawnTs('src/main.ts', {
    REDIS_URL: TEST_REDIS_URL,
    KINEMA_PREFIX: prefix,
    KINEMA_ROLE: 'all',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    MODERATION_IMAGES: 'false',
    BACKEND: 'comfyui',
    COMFYUI_URL: comfy.url,
    ADMIN_TOKEN,
    PRICE_TABLE: 'wan2.1=0.10,wan2.2-a14b=0.20,wan2.2-5b=0.15',
    DISCORD_TOKEN: discord.token,
    DISCORD_APPLICATION_ID: discord.applicationId,
    DISCORD_GUILD_ID: discord.guild().id,
    DISCORD_API_URL: discord.apiUrl,
    SLACK_BOT_TOKEN: '',
    SLACK_APP_TOKEN: '',
  });
  await waitForOutput(kinema, 'chat platforms active');
  await waitForOutput(kinema, '"msg":"HTTP');
  base = `http://127.0.0.1:${/"port":(\d+),"msg":"HTTP/.exec(kinema.output())![1]}`;
  browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stopProcess(kinema);
  await discord.close();
  await comfy.close();
  await cleanup();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

async function logIn(page: Page, token: string) {
  await page.goto(`${base}/admin`);
  await page.fill('input[name="token"]', token);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
}

describe('the admin dashboard (/admin) in headless Chromium', () => {
  it('refuses a wrong token', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await logIn(page, 'not-the-admin-token-at-all');
    await expect.poll(() => page.textContent('#problem')).toBe('That token is not right.');
    expect(await page.locator('#queue').count()).toBe(0);
    expect((await context.cookies()).map((cookie) => cookie.name)).not.toContain('kinema_admin');
    // Nothing behind the login answers without a session, bull-board included.
    expect((await context.request.get(`${base}/admin/api/state`)).status()).toBe(401);
    expect((await context.request.get(`${base}/admin/queues/`)).status()).toBe(401);
    await context.close();
  });

  it('logs in, shows a rendering job whose percent moves, cancels it and drops it from the queue', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await logIn(page, ADMIN_TOKEN);
    await expect.poll(() => page.textContent('#updated')).toMatch(/^updated /);
    const session = (await context.cookies()).find((cookie) => cookie.name === 'kinema_admin');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin' });

    discord.invokeSlashCommand({
      userId: ALICE,
      channelId,
      name: 'animate',
      options: {
        image: { bytes: await makePng(320, 240), filename: 'cat.png', contentType: 'image/png' },
        prompt: '<b>watched</b> from the dashboard',
      } as never,
    });
    const row = page.locator('#queue tr', { hasText: '<b>watched</b> from the dashboard' });
    const percent = row.locator('td.percent');
    await expect.poll(() => percent.textContent(), { timeout: 20_000 }).toMatch(/^\d+%$/);
    const first = await percent.textContent();
    await expect.poll(() => percent.textContent(), { timeout: 20_000 }).not.toBe(first);
    // The prompt is shown as text, never as markup.
    expect(await row.locator('td.prompt b').count()).toBe(0);
    expect(await row.locator('td').nth(1).textContent()).toBe('alice');
    expect(await row.locator('td.phase').textContent()).toMatch(/running|rendering|sampling|generating/i);

    await row.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(0);
    await expect.poll(() => page.locator('#queue-empty').isVisible(), { timeout: 10_000 }).toBe(true);
    const recent = page.locator('#recent tr', { hasText: '<b>watched</b> from the dashboard' });
    await expect.poll(() => recent.textContent(), { timeout: 10_000 }).toMatch(/cancelled/);
    // The chat hears of it as of an admin's cancel.
    const titles = () =>
      discord
        .messages(channelId)
        .map((message) => (message.embeds[0] as { title?: string } | undefined)?.title ?? '');
    await expect
      .poll(titles, { timeout: 10_000 })
      .toContainEqual(expect.stringMatching(/^Cancelled by the operator \(admin\)/));
    await context.close();
  }, 90_000);

  it('lists a finished job with its poster frame, duration and outcome', async () => {
    comfy.configure({ steps: 4, stepDelayMs: 20 });
    const context = await browser.newContext();
    const page = await context.newPage();
    await logIn(page, ADMIN_TOKEN);
    discord.invokeSlashCommand({
      userId: ALICE,
      channelId,
      name: 'animate',
      options: {
        image: { bytes: await makePng(320, 240), filename: 'dog.png', contentType: 'image/png' },
        prompt: 'finished quickly',
      } as never,
    });
    const row = page.locator('#recent tr', { hasText: 'finished quickly' });
    await expect.poll(() => row.locator('td').nth(5).textContent(), { timeout: 30_000 }).toBe('completed');
    expect(await row.locator('td').nth(6).textContent()).toMatch(/^\d+\.\d min$/);
    expect(await row.locator('td').nth(7).textContent()).toMatch(/^0\.\d0 USD$/);
    const poster = row.locator('img.poster');
    await expect
      .poll(() => poster.evaluate((image) => (image as { naturalWidth: number }).naturalWidth), {
        timeout: 10_000,
      })
      .toBeGreaterThan(0);
    await context.close();
  }, 60_000);

  it('refuses a state-changing request without its CSRF token, and pauses and resumes with it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await logIn(page, ADMIN_TOKEN);
    await expect.poll(() => page.textContent('#updated')).toMatch(/^updated /);
    const missing = await context.request.post(`${base}/admin/api/pause`, { data: {} });
    expect(missing.status()).toBe(403);
    expect(await missing.json()).toEqual({ message: 'missing or wrong CSRF token' });
    const wrong = await context.request.post(`${base}/admin/api/pause`, {
      data: {},
      headers: { 'x-csrf-token': 'guessed' },
    });
    expect(wrong.status()).toBe(403);
    await expect.poll(() => page.textContent('#paused')).toBe('Running');
    // A login form posted without the nonce of its own page is refused too.
    const forged = await context.request.post(`${base}/admin/login`, { form: { token: ADMIN_TOKEN } });
    expect(forged.status()).toBe(403);

    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => page.textContent('#paused')).toMatch(/^Paused by /);
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => page.textContent('#paused')).toBe('Running');
    // bull-board, behind the same login.
    await page.goto(`${base}/admin/queues/`);
    await expect.poll(() => page.title()).toMatch(/Kinema queues|bull/i);
    await context.close();
  }, 60_000);
});
