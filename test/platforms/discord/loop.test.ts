import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurationHistory } from '../../../src/backends/durations.js';
import { InferenceBackend } from '../../../src/backends/inference-sh/backend.js';
import { countFrames, prepareForDelivery } from '../../../src/media/video.js';
import { CUSTOM_ID } from '../../../src/platforms/discord/render.js';
import { type FakeInference, startFakeInference } from '../../fakes/inference-sh/server.js';
import { type DiscordHarness, FAST, startDiscordHarness } from '../../support/discord-harness.js';
import { FAST as INFSH_FAST } from '../../support/inference-sh-harness.js';
import { makePng, tempDir } from '../../support/media.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

/**
 * `loop` on Discord, rendered by the real inference.sh backend against its fake: the start image is
 * sent as the end frame, the posted mp4 is one frame shorter than the rendered one (no repeat at
 * the seam), reruns keep it, Details shows it; refused privately, with nothing queued, on a model
 * the backend gives no end frame (made up here: every shipped model takes one) and with an end frame.
 */

const redis = testRedis();
let h: DiscordHarness;
let fake: FakeInference;
let media: Awaited<ReturnType<typeof tempDir>>;

const videoPosts = () =>
  h.discord
    .messages(h.channelId)
    .filter(
      (m) => m.authorId === h.discord.botUserId && m.attachments.some((a) => a.filename.endsWith('.mp4')),
    );

/** The bytes the fake stored for a file input of a run (a `…/files/<id>/<name>` URL). */
const uploadedAt = (uri: unknown) => {
  const id = String(uri).split('/files/')[1]?.split('/')[0];
  return id ? fake.uploads().get(id) : undefined;
};

async function framesOf(bytes: Buffer, name: string) {
  const path = join(media.dir, name);
  await writeFile(path, bytes);
  return countFrames(path, { decode: true });
}

async function animate(options: Record<string, unknown>) {
  await h.channelIdle();
  const invoked = h.discord.invokeSlashCommand({
    userId: h.userId,
    channelId: h.channelId,
    name: 'animate',
    options: {
      image: { bytes: h.png, filename: 'wave.png', contentType: 'image/png' },
      ...options,
    } as never,
  });
  return { invoked, jobId: `dc-${invoked.id}` };
}

beforeAll(async () => {
  media = await tempDir('discord-loop');
  h = await startDiscordHarness(
    {},
    {},
    {
      // Made up: this backend gives Wan 2.2 5B no end frame (every shipped model takes one).
      api: {
        capabilities: { backend: 'inference.sh', endFrame: (m) => m !== 'wan2.2-5b', lora: () => false },
      },
    },
  );
  fake = await startFakeInference({ video: h.video, retiredAppsRun: true, stepDelayMs: 10 });
  await h.startBot();
  const backend = new InferenceBackend({
    apiUrl: fake.apiUrl,
    apiKey: fake.apiKey,
    durations: new DurationHistory(h.pipeline.connection, h.config.KINEMA_PREFIX),
    outputHosts: [fake.storageHost],
    ...INFSH_FAST,
  });
  // The preparer main.ts gives workers.
  h.worker = await h.pipeline.startWorker(backend, prepareForDelivery, { ...FAST, concurrency: 2 });
});

afterAll(async () => {
  await h.worker?.close();
  await h.close(redis);
  await fake.close();
  await media.cleanup();
  await redis.quit();
});

describe('loop on Discord', () => {
  it('sends the start image as the end frame and posts a video one frame shorter, which a rerun keeps', async () => {
    const { jobId } = await animate({ prompt: 'a wave rolls in', loop: true, model: 'wan2.2-a14b', seed: 9 });
    const post = await waitFor(
      () => videoPosts().find((m) => m.content.includes('a wave rolls in')),
      'the video',
    );
    const run = fake.runRequests().at(-1)!;
    expect(run.app).toBe('infsh/wan2-2-i2v-a14b');
    const start = uploadedAt(run.input.image);
    const end = uploadedAt(run.input.end_image);
    const job = await h.pipeline.queue.queue.getJob(jobId);
    const stored = await h.pipeline.inputs.read(job!.data.request.input_image);
    expect(start?.equals(stored)).toBe(true);
    expect(end?.equals(stored)).toBe(true);
    // No loop field reaches the app, and no note says one was ignored.
    expect(run.input).not.toHaveProperty('loop');
    expect(JSON.stringify(post.embeds)).not.toMatch(/loop is not used/);

    const rendered = await framesOf(h.video, 'rendered.mp4');
    const delivered = await framesOf(h.discord.attachmentBytes(post.id, 0), 'delivered.mp4');
    expect(delivered).toBe(rendered - 1);

    // Details, privately: the loop and the option that asks for it again.
    const details = h.discord.clickButton({
      messageId: post.id,
      customId: CUSTOM_ID.details(jobId),
      userId: h.otherUserId,
    });
    const shown = await h.answer(details.id);
    expect(shown).toContain('Loop: yes');
    expect(shown).toMatch(
      /\/animate image:\(the same image\) prompt:"a wave rolls in" model:wan2\.2-a14b seed:9 loop:true/,
    );

    // The rerun is a loop too: a new seed, the same image at both ends.
    const before = fake.tasksCreated();
    await h.channelIdle();
    h.discord.clickButton({ messageId: post.id, customId: CUSTOM_ID.rerun(jobId), userId: h.userId });
    await waitFor(() => (videoPosts().length >= 2 ? true : undefined), 'the rerun video');
    expect(fake.tasksCreated()).toBe(before + 1);
    const rerun = fake.runRequests().at(-1)!;
    expect(rerun.input.seed).not.toBe(9);
    expect(uploadedAt(rerun.input.end_image)?.equals(stored)).toBe(true);
  });

  it('refuses loop privately on a model the backend gives no end frame, queueing nothing', async () => {
    const before = fake.tasksCreated();
    const { invoked, jobId } = await animate({ prompt: 'a kite loops', loop: true, model: 'wan2.2-5b' });
    const text = await h.answer(invoked.id);
    expect(text).toBe(
      'Wan 2.2 TI2V 5B on inference.sh cannot take an end frame, which loop needs; nothing was queued. Leave it out, or pick another model.',
    );
    const followUp = h.discord.requests.find(
      (r) =>
        r.method === 'POST' && r.path.startsWith(`/webhooks/${h.discord.applicationId}/${invoked.token}`),
    );
    expect(followUp?.json).toMatchObject({ flags: 64 });
    expect(await h.pipeline.queue.queue.getJob(jobId)).toBeUndefined();
    expect(fake.tasksCreated()).toBe(before);
  });

  it('refuses loop with an end frame at once, privately, before anything is acknowledged', async () => {
    const before = fake.tasksCreated();
    // An immediate reply counts against the channel's budget: it goes at once when there is room.
    await h.channelIdle();
    const { invoked, jobId } = await animate({
      prompt: 'a door swings',
      loop: true,
      end_frame: { bytes: await makePng(64, 48), filename: 'end.png', contentType: 'image/png' },
    });
    expect(await h.answer(invoked.id)).toBe(
      'Loop ends the video on its start image, so it cannot also take an end frame; nothing was queued. Leave out the end frame or loop.',
    );
    expect(h.discord.callbacks(invoked.id)[0]).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(await h.pipeline.queue.queue.getJob(jobId)).toBeUndefined();
    expect(fake.tasksCreated()).toBe(before);
  });
});
