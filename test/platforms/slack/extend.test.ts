import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComfyBackend } from '../../../src/backends/comfyui/backend.js';
import { countFrames, prepareForDelivery, probeVideo } from '../../../src/media/video.js';
import { type FakeComfy, startFakeComfy } from '../../fakes/comfyui/index.js';
import type { JsonObject } from '../../fakes/slack/index.js';
import { fastOptions } from '../../support/comfyui-harness.js';
import { decodeFrame, meanDifference, rgbOf, tempDir } from '../../support/media.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';
import { FAST, type SlackHarness, startSlackHarness } from '../../support/slack-harness.js';

/**
 * Extend on a Slack result through the real Bolt app, rendered by the ComfyUI backend against its
 * fake: the shared mp4 comes back with the bot token, the continuation starts from its last frame.
 */

const redis = testRedis();
let h: SlackHarness;
let comfy: FakeComfy;
let backend: ComfyBackend;
let dir: string;
let cleanup: () => Promise<void>;
const SAME = 4;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('slack-extend'));
  h = await startSlackHarness('socket', { MAX_EXTENSIONS: '1' });
  comfy = await startFakeComfy({ video: h.video, stepDelayMs: 1, nodeDelayMs: 1 });
  await h.startBot();
  backend = new ComfyBackend(fastOptions([comfy.url]));
  h.worker = await h.pipeline.startWorker(backend, prepareForDelivery, { ...FAST, concurrency: 2 });
});

afterAll(async () => {
  await h.worker?.close();
  await h.close(redis);
  await backend.close();
  await comfy.close();
  await redis.quit();
  await cleanup();
});

const actionsOf = (message: { blocks?: unknown }) =>
  ((message.blocks as JsonObject[]).find((b) => b.type === 'actions')!.elements as JsonObject[]).map(
    (e) => e.action_id,
  );

async function savedVideo(message: { files?: { id: string }[] }, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, h.slack.uploadedFile(message.files![0]!.id)!);
  return path;
}

describe('Slack Extend', () => {
  it('fetches the shared video back, continues from its last frame, posts both joined, once per view, and stops at MAX_EXTENSIONS', async () => {
    const file = h.slack.addFile(h.png, { name: 'owl.png' });
    const mention = h.slack.appMention({
      text: `<@${h.slack.botUserId}> an owl opens its eyes negative_prompt=blurry`,
      files: [file],
    });
    await h.slack.deliver(h.target, 'events_api', mention);
    const jobId = `sl-m-${h.channel}-${String(mention.event.ts)}`;
    const video = await waitFor(() => h.videoOf(jobId), 'the video');
    expect(actionsOf(video)).toEqual(['kinema_rerun', 'kinema_extend', 'kinema_remix', 'kinema_details']);
    const promptsBefore = comfy.promptsSubmitted().length;
    const uploadsBefore = comfy.uploads().length;

    const click = h.slack.blockAction({ action_id: 'kinema_extend', value: jobId, message_ts: video.ts });
    await h.slack.deliver(h.target, 'interactive', click);
    const opened = await waitFor(
      () => h.slack.views().find((v) => v.trigger_id === click.trigger_id),
      'the extend modal',
    );
    const elements = Object.fromEntries(
      (opened.view.blocks as JsonObject[])
        .filter((b) => b.type === 'input')
        .map((b) => [b.block_id, b.element as JsonObject]),
    );
    expect(elements.prompt).toMatchObject({ initial_value: 'an owl opens its eyes' });
    expect(elements.negative_prompt).toMatchObject({ initial_value: 'blurry' });

    const submission = h.slack.viewSubmission({
      view_id: opened.view_id,
      values: { prompt: { value: h.slack.textInput('the owl takes off') } },
    });
    await Promise.all([
      h.slack.deliver(h.target, 'interactive', submission),
      h.slack.deliver(h.target, 'interactive', submission),
    ]);
    const extensionId = `sl-${opened.view_id}`;
    const extended = await waitFor(() => h.videoOf(extensionId), 'the extended video');
    expect(comfy.promptsSubmitted().length - promptsBefore).toBe(1);
    expect((await h.api!.record(extensionId))?.extension?.depth).toBe(1);
    // The shared mp4 was downloaded with the bot token (it had left Redis once posted).
    expect(h.slack.fileFetches().some((f) => f.fileId === video.files![0]!.id && f.authorized)).toBe(true);

    const originalPath = await savedVideo(video, 'original.mp4');
    const extendedPath = await savedVideo(extended, 'extended.mp4');
    const continuationPath = join(dir, 'continuation.mp4');
    await writeFile(continuationPath, h.video);
    const joined = await probeVideo(extendedPath);
    const caption = JSON.stringify(extended.blocks);
    expect(caption).toContain(
      `Extension of \`${jobId}\` · extended to ${joined.durationSeconds.toFixed(1)} s`,
    );
    expect(extended.thread_ts).toBe(video.thread_ts);

    const frames = (path: string) => countFrames(path, { decode: true });
    const originalFrames = await frames(originalPath);
    expect(await frames(extendedPath)).toBe(originalFrames + (await frames(continuationPath)) - 1);
    for (const index of [0, originalFrames - 1]) {
      const want = await decodeFrame(originalPath, index, dir);
      expect(meanDifference(await decodeFrame(extendedPath, index, dir), want)).toBeLessThan(SAME);
    }
    // The image ComfyUI was given is the original's last frame.
    const sent = comfy.uploads().slice(uploadsBefore).at(-1);
    expect(sent).toBeDefined();
    const last = await decodeFrame(originalPath, originalFrames - 1, dir);
    expect(meanDifference(await rgbOf(sent!.bytes), last)).toBeLessThan(SAME);

    // MAX_EXTENSIONS=1: extending the extension is refused privately, nothing opens or queues.
    const again = h.slack.blockAction({
      action_id: 'kinema_extend',
      value: extensionId,
      message_ts: extended.ts,
    });
    await h.slack.deliver(h.target, 'interactive', again);
    const refused = await waitFor(
      () => h.slack.responseUrlPosts().find((p) => p.url === again.response_url),
      'the refusal',
    );
    expect(refused.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String((refused.body as { text: string }).text)).toMatch(/already been extended 1 time/);
    expect(h.slack.views().some((v) => v.trigger_id === again.trigger_id)).toBe(false);
    expect(comfy.promptsSubmitted().length - promptsBefore).toBe(1);
  });
});
