import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postFileStreamed } from '../../../src/platforms/slack/upload.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';
import { type SlackHarness, startSlackHarness } from '../../support/slack-harness.js';

/** What a Slack job costs in the channel and the workspace, and how its video travels (issue 10). */

const redis = testRedis();
let h: SlackHarness;

/** Methods that put a message in a channel or edit one. */
const MESSAGE_METHODS = ['chat.postMessage', 'chat.update', 'files.completeUploadExternal'];

beforeAll(async () => {
  h = await startSlackHarness('http', {}, { bot: { statusIntervalMs: 30_000 } });
  await h.startWorker();
  await h.startBot();
});

afterAll(async () => {
  await h?.worker?.close();
  await h?.close(redis);
  await redis.quit();
});

describe('a lone Slack job', () => {
  it('costs three message operations (status, video, final edit), meets no 429, and streams its video', async () => {
    const since = h.slack.calls().length;
    const file = h.slack.addFile(h.png, { name: 'cat.png' });
    const mention = h.slack.appMention({ text: `<@${h.slack.botUserId}> the cat yawns`, files: [file] });
    await h.slack.deliver(h.target, 'events_api', mention);
    const jobId = `sl-m-${h.channel}-${String(mention.event.ts)}`;
    const status = await waitFor(() => h.statusOf(jobId), 'the status message');
    const video = await waitFor(() => h.videoOf(jobId), 'the video');
    await waitFor(() => h.headline(status.ts) === 'Done', 'the status to say Done');

    const calls = h.slack.calls().slice(since);
    expect(calls.filter((call) => MESSAGE_METHODS.includes(call.method)).map((call) => call.method)).toEqual([
      'chat.postMessage',
      'files.completeUploadExternal',
      'chat.update',
    ]);
    expect(calls.some((call) => call.status === 429)).toBe(false);
    expect(h.bot!.scheduler.stats.rateLimited).toBe(0);

    // The external upload flow with the bytes as the POST body, not filesUploadV2's whole-file form.
    const upload = h.slack.uploadRecord(video.files![0]!.id)!;
    expect(upload.encoding).toBe('raw');
    expect(upload.declaredLength).toBe(h.video.length);
    expect(upload.bytes.equals(h.video)).toBe(true);
    expect(calls.some((call) => call.method === 'files.upload' || call.method === 'files.uploadV2')).toBe(
      false,
    );
  });
});

describe('the streamed upload', () => {
  it('sends the first bytes before the last ones exist, with the length declared', async () => {
    const received: Buffer[] = [];
    let firstArrived!: () => void;
    const first = new Promise<void>((resolve) => (firstArrived = resolve));
    let declared: string | undefined;
    const server = createServer((req, res) => {
      declared = req.headers['content-length'];
      req.on('data', (chunk: Buffer) => {
        received.push(chunk);
        firstArrived();
      });
      req.on('end', () => res.end('OK'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const source = new PassThrough();
      const head = Buffer.alloc(64 * 1024, 1);
      const tail = Buffer.alloc(16 * 1024, 2);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`;
      const posted = postFileStreamed(url, { stream: source, bytes: head.length + tail.length });
      source.write(head);
      // Were the file read whole before sending, the server would wait here for ever.
      await first;
      source.end(tail);
      await posted;
      expect(declared).toBe(String(head.length + tail.length));
      expect(Buffer.concat(received).equals(Buffer.concat([head, tail]))).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
