import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurationHistory } from '../../../src/backends/durations.js';
import { InferenceBackend } from '../../../src/backends/inference-sh/backend.js';
import { countFrames, prepareForDelivery, probeVideo } from '../../../src/media/video.js';
import { CUSTOM_ID } from '../../../src/platforms/discord/render.js';
import { type FakeInference, startFakeInference } from '../../fakes/inference-sh/server.js';
import { type DiscordHarness, FAST, startDiscordHarness } from '../../support/discord-harness.js';
import { FAST as INFSH_FAST } from '../../support/inference-sh-harness.js';
import { decodeFrame, meanDifference, rgbOf, tempDir } from '../../support/media.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

/**
 * Extend on a Discord result, rendered by the real inference.sh backend against its fake: the
 * continuation starts from the original's last frame, and the post is the original followed by it.
 */

const redis = testRedis();
let h: DiscordHarness;
let fake: FakeInference;
let dir: string;
let cleanup: () => Promise<void>;

/** Re-encoding changes decoded values by a little; another frame differs by far more. */
const SAME = 4;

const videoPosts = () =>
  h.discord
    .messages(h.channelId)
    .filter(
      (m) => m.authorId === h.discord.botUserId && m.attachments.some((a) => a.filename.endsWith('.mp4')),
    );
const buttonsOf = (messageId: string) =>
  JSON.stringify(h.discord.message(messageId)?.components ?? []).match(/kinema:[a-z-]+:[^"]+/g) ?? [];

async function saved(messageId: string, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, h.discord.attachmentBytes(messageId, 0));
  return path;
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('discord-extend'));
  h = await startDiscordHarness({ MAX_EXTENSIONS: '1' });
  fake = await startFakeInference({ video: h.video });
  await h.startBot();
  const backend = new InferenceBackend({
    apiUrl: fake.apiUrl,
    apiKey: fake.apiKey,
    durations: new DurationHistory(h.pipeline.connection, h.config.KINEMA_PREFIX),
    outputHosts: [fake.storageHost],
    ...INFSH_FAST,
  });
  // As main.ts runs it: the stills (the last frame an extension starts from) are kept.
  h.worker = await h.pipeline.startWorker(backend, prepareForDelivery, { ...FAST, concurrency: 2 });
});

afterAll(async () => {
  await h.worker?.close();
  await h.close(redis);
  await fake.close();
  await redis.quit();
  await cleanup();
});

describe('Discord Extend', () => {
  it('continues from the last frame, posts the original followed by the continuation, once per double submit, and stops at MAX_EXTENSIONS', async () => {
    const invoked = h.discord.invokeSlashCommand({
      userId: h.userId,
      channelId: h.channelId,
      name: 'animate',
      options: {
        image: { bytes: h.png, filename: 'kite.png', contentType: 'image/png' },
        prompt: 'a kite rises',
        negative_prompt: 'blurry',
        num_frames: 49,
        model: 'wan2.2-a14b',
      } as never,
    });
    const jobId = `dc-${invoked.id}`;
    const first = await waitFor(
      () => videoPosts().find((m) => m.content.includes('a kite rises')),
      'the video',
    );
    expect(buttonsOf(first.id)).toEqual([
      CUSTOM_ID.rerun(jobId),
      CUSTOM_ID.extend(jobId),
      CUSTOM_ID.remix(jobId),
      CUSTOM_ID.details(jobId),
    ]);
    // The delivered mp4 has left Redis (issue 10): the extension must fetch it back from the post.
    await waitFor(
      async () => (await h.pipeline.blobs.meta(`result-${jobId}`)) === undefined,
      'the delivered video to leave Redis',
    );

    // Extend opens a form pre-filled with the prompt, the negative prompt and the settings.
    const opened = h.discord.clickButton({
      messageId: first.id,
      customId: CUSTOM_ID.extend(jobId),
      userId: h.userId,
    });
    const modal = await waitFor(() => h.discord.interaction(opened.id)?.modal, 'the extend form');
    const text = JSON.stringify(modal);
    expect(text).toContain('"value":"a kite rises"');
    expect(text).toContain('"value":"blurry"');
    expect(text).toContain('num_frames=49');

    // Submitted twice at once with an edited prompt: one job, one paid task.
    const tasksBefore = fake.tasksCreated();
    const edit = { prompt: 'the kite drifts out of sight' };
    const a = h.discord.submitModal({ fromInteractionId: opened.id, userId: h.userId, fields: edit });
    const b = h.discord.submitModal({ fromInteractionId: opened.id, userId: h.userId, fields: edit });
    await Promise.all([h.answer(a.id), h.answer(b.id)]);
    const extended = await waitFor(
      () => videoPosts().find((m) => m.content.includes('the kite drifts out of sight')),
      'the extended video',
    );
    expect(fake.tasksCreated() - tasksBefore).toBe(1);
    const extensionId = `dc-${opened.id}`;
    const jobs = await h.pipeline.queue.queue.getJobs(['completed', 'active', 'waiting', 'delayed']);
    expect(jobs.filter((j) => j.data.parentJobId === jobId)).toHaveLength(1);
    expect((await h.api!.record(extensionId))?.extension?.depth).toBe(1);
    const run = fake.runRequests().at(-1)!;
    expect(run.input).toMatchObject({ prompt: 'the kite drifts out of sight', negative_prompt: 'blurry' });

    // The original came back from the post, by its signed CDN URL.
    const cdn = h.discord.requests.filter(
      (r) => r.route === '/attachments/:channel_id/:attachment_id/:filename',
    );
    expect(cdn.some((r) => r.status === 200 && r.path.includes(`/${first.attachments[0]!.id}/`))).toBe(true);

    // The post links its parent and says the total length.
    expect(extended.content).toContain(`Extension of https://discord.com/channels/`);
    expect(extended.content).toContain(first.id);
    const originalPath = await saved(first.id, 'original.mp4');
    const extendedPath = await saved(extended.id, 'extended.mp4');
    const continuationPath = join(dir, 'continuation.mp4');
    await writeFile(continuationPath, h.video);
    const original = await probeVideo(originalPath);
    const joined = await probeVideo(extendedPath);
    const continuation = await probeVideo(continuationPath);
    expect(extended.content).toContain(`extended to ${joined.durationSeconds.toFixed(1)} s`);

    // Both parts minus the one shared frame, at the original's size and rate.
    const frames = async (path: string) => countFrames(path, { decode: true });
    const [originalFrames, continuationFrames] = [await frames(originalPath), await frames(continuationPath)];
    expect(await frames(extendedPath)).toBe(originalFrames + continuationFrames - 1);
    expect(joined).toMatchObject({ width: original.width, height: original.height });
    expect(joined.durationSeconds).toBeCloseTo(
      original.durationSeconds + continuation.durationSeconds - 1 / original.frameRate,
      1,
    );
    // Its first frames are the original's.
    for (const index of [0, Math.floor(originalFrames / 2), originalFrames - 1]) {
      const want = await decodeFrame(originalPath, index, dir);
      expect(meanDifference(await decodeFrame(extendedPath, index, dir), want)).toBeLessThan(SAME);
    }
    // The continuation's input image is the original's last frame (decoded pixels, not bytes).
    const uri = JSON.stringify(run.input).match(/"(?:image|input_image)":"([^"]+)"/)?.[1] ?? '';
    const sent = [...fake.uploads()].find(([id]) => uri.includes(id))?.[1];
    expect(sent).toBeDefined();
    const lastOfOriginal = await decodeFrame(originalPath, originalFrames - 1, dir);
    expect(meanDifference(await rgbOf(sent!), lastOfOriginal)).toBeLessThan(SAME);
    const firstOfOriginal = await decodeFrame(originalPath, 0, dir);
    expect(meanDifference(await rgbOf(sent!), firstOfOriginal)).toBeGreaterThan(SAME);

    // MAX_EXTENSIONS=1: the extension cannot be extended again; told privately, nothing queued.
    const tasksAtCap = fake.tasksCreated();
    // An immediate reply counts against the channel's budget, which the posts just spent: it goes
    // at once when there is room (otherwise the bot defers privately and edits).
    await h.channelIdle();
    const again = h.discord.clickButton({
      messageId: extended.id,
      customId: CUSTOM_ID.extend(extensionId),
      userId: h.userId,
    });
    expect(await h.answer(again.id)).toMatch(/already been extended 1 time.*MAX_EXTENSIONS/);
    expect(h.discord.callbacks(again.id)[0]).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(h.discord.interaction(again.id)?.modal).toBeFalsy();
    expect(fake.tasksCreated()).toBe(tasksAtCap);

    // 🎲 on the extension: another take of the continuation, joined to the same original.
    const rerun = h.discord.clickButton({
      messageId: extended.id,
      customId: CUSTOM_ID.rerun(extensionId),
      userId: h.userId,
    });
    await h.answer(rerun.id);
    const retaken = await waitFor(
      () =>
        videoPosts().find(
          (m) => m.id !== extended.id && m.content.includes(`Rerun of`) && m.content.includes(extended.id),
        ),
      'the rerun of the extension',
    );
    expect(await frames(await saved(retaken.id, 'retaken.mp4'))).toBe(
      originalFrames + continuationFrames - 1,
    );
  });
});
