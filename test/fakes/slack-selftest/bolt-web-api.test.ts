import { webApi } from '@slack/bolt';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, type RunningBoltApp, startBoltHttpApp } from '../slack/bolt-harness.js';
import { type FakeSlack, startFakeSlack } from '../slack/index.js';

const MP4 = Buffer.concat([
  Buffer.from('000000206674797069736f6d0000020069736f6d69736f32617663316d703431', 'hex'),
  Buffer.alloc(64 * 1024, 7),
]);
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001', 'hex');

let fake: FakeSlack | undefined;
let running: RunningBoltApp | undefined;

afterEach(async () => {
  await running?.stop();
  await fake?.close();
  running = undefined;
  fake = undefined;
});

/** A started Bolt app whose WebClient (`app.client`, also the listeners' `client`) talks to the fake. */
async function setup(
  clientOptions: webApi.WebClientOptions = {},
): Promise<{ fake: FakeSlack; running: RunningBoltApp }> {
  fake = await startFakeSlack();
  running = await startBoltHttpApp(fake, () => {}, { clientOptions });
  return { fake, running };
}

describe("Bolt's WebClient against the fake Web API", () => {
  it('chat.postMessage returns channel/ts/message; chat.update edits it and is recorded; errors are ok:false', async () => {
    const { fake: f, running: r } = await setup();
    const client = r.app.client;
    const posted = await client.chat.postMessage({
      channel: f.defaultChannelId,
      text: 'Queued (position 2)',
    });
    expect(posted).toMatchObject({
      ok: true,
      channel: f.defaultChannelId,
      message: { text: 'Queued (position 2)', user: f.botUserId, bot_id: f.botId },
    });
    const ts = posted.ts!;
    await client.chat.update({ channel: f.defaultChannelId, ts, text: 'Rendering 40%' });
    const done = await client.chat.update({
      channel: f.defaultChannelId,
      ts,
      text: 'Done',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Done*' } }],
    });
    expect(done).toMatchObject({ ok: true, channel: f.defaultChannelId, ts, text: 'Done' });
    expect(f.updates(f.defaultChannelId, ts).map((u) => u.text)).toEqual(['Rendering 40%', 'Done']);
    expect(f.message(f.defaultChannelId, ts)).toMatchObject({ text: 'Done', edited: { user: f.botUserId } });
    expect(f.calls('chat.update').map((c) => [c.status, c.ok, c.encoding, c.auth])).toEqual([
      [200, true, 'form', 'bot'],
      [200, true, 'form', 'bot'],
    ]);

    await expect(
      client.chat.update({ channel: f.defaultChannelId, ts: '1.000001', text: 'x' }),
    ).rejects.toMatchObject({
      code: 'slack_webapi_platform_error',
      data: { ok: false, error: 'message_not_found' },
    });
    await expect(client.chat.postMessage({ channel: f.defaultChannelId, text: '' })).rejects.toMatchObject({
      data: { error: 'no_text' },
    });
    // A user's own message cannot be edited by the bot.
    const userMsg = f.postUserMessage({ text: 'hi' });
    await expect(
      client.chat.update({ channel: f.defaultChannelId, ts: userMsg.ts, text: 'x' }),
    ).rejects.toMatchObject({
      data: { error: 'cant_update_message' },
    });
    // Thread reply shows up in messages() and threadReplies().
    await client.chat.postMessage({ channel: f.defaultChannelId, thread_ts: ts, text: 'reply' });
    expect(f.threadReplies(f.defaultChannelId, ts).map((m) => m.text)).toEqual(['reply']);

    const wrong = new webApi.WebClient('xoxb-wrong', { slackApiUrl: f.apiUrl, retryConfig: { retries: 0 } });
    await expect(wrong.auth.test()).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
    await expect(client.apps.connections.open({})).rejects.toMatchObject({
      data: { error: 'not_allowed_token_type' },
    });
    await expect(client.auth.test()).resolves.toMatchObject({
      user_id: f.botUserId,
      bot_id: f.botId,
      team_id: f.teamId,
    });
  });

  it('chat.update answering 429 + Retry-After: the WebClient pauses for Retry-After, retries and succeeds', async () => {
    // rapidRetryPolicy removes p-retry's own backoff, so the only wait is the Retry-After pause.
    const { fake: f, running: r } = await setup({ retryConfig: webApi.retryPolicies.rapidRetryPolicy });
    const client = r.app.client;
    const rateLimited = deferred<number>();
    client.on(webApi.WebClientEvent.RATE_LIMITED, (retrySec: number) => rateLimited.resolve(retrySec));
    const { ts } = await client.chat.postMessage({ channel: f.defaultChannelId, text: 'Queued' });
    f.rateLimit('chat.update', { times: 1, retryAfterSeconds: 1 });

    const res = await client.chat.update({ channel: f.defaultChannelId, ts: ts!, text: 'Rendering' });
    expect(res.ok).toBe(true);
    expect(await rateLimited.promise).toBe(1);
    const calls = f.calls('chat.update');
    expect(calls.map((c) => [c.status, c.error])).toEqual([
      [429, 'ratelimited'],
      [200, undefined],
    ]);
    // Lower bound only: the retry cannot come before the client's Retry-After sleep (setTimeout may round down by ~1 ms).
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(990);
    expect(f.updates(f.defaultChannelId, ts!)).toHaveLength(1);
  });

  it('other methods can be switched to 429 or to an error; rejectRateLimitedCalls surfaces the 429', async () => {
    const { fake: f, running: r } = await setup();
    f.failNext('chat.postMessage', 'not_in_channel');
    await expect(
      r.app.client.chat.postMessage({ channel: f.defaultChannelId, text: 'x' }),
    ).rejects.toMatchObject({
      data: { error: 'not_in_channel' },
    });
    await expect(
      r.app.client.chat.postMessage({ channel: f.defaultChannelId, text: 'x' }),
    ).resolves.toMatchObject({
      ok: true,
    });

    const strict = new webApi.WebClient(f.botToken, { slackApiUrl: f.apiUrl, rejectRateLimitedCalls: true });
    f.rateLimit('files.info', { times: 1, retryAfterSeconds: 30 });
    await expect(strict.files.info({ file: 'F123' })).rejects.toMatchObject({
      code: 'slack_webapi_rate_limited_error',
      retryAfter: 30,
    });
    expect(f.calls('files.info')[0]).toMatchObject({ status: 429, error: 'ratelimited' });
  });

  it('filesUploadV2 stores the exact bytes and posts a file message in the thread', async () => {
    const { fake: f, running: r } = await setup();
    const client = r.app.client;
    const { ts: statusTs } = await client.chat.postMessage({
      channel: f.defaultChannelId,
      text: 'Rendering…',
    });
    const result = await client.filesUploadV2({
      channel_id: f.defaultChannelId,
      thread_ts: statusTs!,
      file: MP4,
      filename: 'kinema.mp4',
      title: 'A cat surfing',
      initial_comment: 'Here is your video',
    });
    expect(result.ok).toBe(true);

    const [getUrl] = f.calls('files.getUploadURLExternal');
    expect(getUrl!.args).toMatchObject({ filename: 'kinema.mp4', length: String(MP4.length) });
    const fileId = getUrl!.response.file_id as string;
    expect(f.uploadedFile(fileId)?.equals(MP4)).toBe(true);
    // What @slack/web-api 8 actually sends to upload_url: multipart with the bytes in a part named `body`.
    expect(f.uploadRecord(fileId)).toMatchObject({
      encoding: 'multipart',
      partName: 'body',
      declaredLength: MP4.length,
    });

    const [complete] = f.calls('files.completeUploadExternal');
    expect(complete!.response).toEqual({ ok: true, files: [{ id: fileId, title: 'A cat surfing' }] });
    const replies = f.threadReplies(f.defaultChannelId, statusTs!);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({
      text: 'Here is your video',
      thread_ts: statusTs,
      upload: true,
      files: [{ id: fileId, name: 'kinema.mp4', mimetype: 'video/mp4', filetype: 'mp4', size: MP4.length }],
    });
    const info = await client.files.info({ file: fileId });
    expect(info.file).toMatchObject({ id: fileId, title: 'A cat surfing', size: MP4.length });
  });

  it('serves url_private(_download) only with the bot token; otherwise a 200 HTML sign-in page', async () => {
    const { fake: f } = await setup();
    const file = f.addFile(PNG, { name: 'input.png', mimetype: 'image/png' });
    for (const url of [file.url_private, file.url_private_download]) {
      const ok = await fetch(url, { headers: { Authorization: `Bearer ${f.botToken}` } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await ok.arrayBuffer()).equals(PNG)).toBe(true);

      const withoutToken: Array<Record<string, string>> = [{}, { Authorization: 'Bearer xoxb-someone-else' }];
      for (const headers of withoutToken) {
        const page = await fetch(url, { headers });
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        expect(await page.text()).toMatch(/^<!DOCTYPE html>/);
      }
    }
    expect(f.fileFetches().map((x) => x.authorized)).toEqual([true, false, false, true, false, false]);
  });
});
