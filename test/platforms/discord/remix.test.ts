import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurationHistory } from '../../../src/backends/durations.js';
import { InferenceBackend } from '../../../src/backends/inference-sh/backend.js';
import { normaliseForChat } from '../../../src/media/video.js';
import { CUSTOM_ID } from '../../../src/platforms/discord/render.js';
import { type FakeInference, startFakeInference } from '../../fakes/inference-sh/server.js';
import { type DiscordHarness, FAST, startDiscordHarness } from '../../support/discord-harness.js';
import { FAST as INFSH_FAST } from '../../support/inference-sh-harness.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

/** Remix and Details on a Discord result, rendered by the real inference.sh backend against its fake. */

const redis = testRedis();
let h: DiscordHarness;
let fake: FakeInference;

const videoPosts = () =>
  h.discord
    .messages(h.channelId)
    .filter(
      (m) => m.authorId === h.discord.botUserId && m.attachments.some((a) => a.filename.endsWith('.mp4')),
    );
const buttonsOf = (messageId: string) =>
  JSON.stringify(h.discord.message(messageId)?.components ?? []).match(/kinema:[a-z-]+:[^"]+/g) ?? [];

beforeAll(async () => {
  h = await startDiscordHarness();
  fake = await startFakeInference({ video: h.video });
  await h.startBot();
  const backend = new InferenceBackend({
    apiUrl: fake.apiUrl,
    apiKey: fake.apiKey,
    durations: new DurationHistory(h.pipeline.connection, h.config.KINEMA_PREFIX),
    outputHosts: [fake.storageHost],
    ...INFSH_FAST,
  });
  h.worker = await h.pipeline.startWorker(backend, normaliseForChat, { ...FAST, concurrency: 2 });
});

afterAll(async () => {
  await h.worker?.close();
  await h.close(redis);
  await fake.close();
  await redis.quit();
});

describe('Discord Remix and Details', () => {
  it('remixes with an edited prompt on the same image, once per double submit, and refuses bad values privately', async () => {
    const invoked = h.discord.invokeSlashCommand({
      userId: h.userId,
      channelId: h.channelId,
      name: 'animate',
      options: {
        image: { bytes: h.png, filename: 'boat.png', contentType: 'image/png' },
        prompt: 'a boat drifts',
        negative_prompt: 'blurry',
        seed: 4242,
        num_frames: 49,
        model: 'wan2.2-a14b',
      } as never,
    });
    const jobId = `dc-${invoked.id}`;
    const first = await waitFor(
      () => videoPosts().find((m) => m.content.includes('a boat drifts')),
      'the video',
    );
    expect(buttonsOf(first.id)).toEqual([
      CUSTOM_ID.rerun(jobId),
      CUSTOM_ID.extend(jobId),
      CUSTOM_ID.remix(jobId),
      CUSTOM_ID.details(jobId),
    ]);
    const original = fake.runRequests().at(-1)!;

    // Details: privately, the seed, the settings and the /animate options.
    const details = h.discord.clickButton({
      messageId: first.id,
      customId: CUSTOM_ID.details(jobId),
      userId: h.otherUserId,
    });
    const shown = await h.answer(details.id);
    expect(shown).toContain('Seed: 4242');
    expect(shown).toMatch(/Length: 49 frames \(3\.1 s at 16 fps\)/);
    expect(shown).toContain('Size: 1280x720');
    expect(shown).toContain('Negative prompt: “blurry”');
    expect(shown).toContain('Steps: 40');
    expect(shown).toContain("Guidance: the model's default");
    expect(shown).toMatch(
      /\/animate image:\(the same image\) prompt:"a boat drifts" negative_prompt:blurry model:wan2\.2-a14b num_frames:49 seed:4242/,
    );
    // Deferred privately (flags 64): only the person who clicked sees it.
    expect(h.discord.callbacks(details.id)[0]).toMatchObject({ type: 5, data: { flags: 64 } });

    // Remix: the form opens pre-filled from the stored job.
    const opened = h.discord.clickButton({
      messageId: first.id,
      customId: CUSTOM_ID.remix(jobId),
      userId: h.userId,
    });
    const modal = await waitFor(() => h.discord.interaction(opened.id)?.modal, 'the remix form');
    const text = JSON.stringify(modal);
    expect(text).toContain('"value":"a boat drifts"');
    expect(text).toContain('"value":"blurry"');
    expect(text).toContain('"value":"wan2.2-a14b"');
    expect(text).toContain('"value":"4242"');
    expect(text).toContain('"value":"size=1280x720 num_frames=49"');

    // A bad value: refused privately, nothing queued.
    const tasksBefore = fake.tasksCreated();
    const bad = h.discord.submitModal({
      fromInteractionId: opened.id,
      userId: h.userId,
      fields: { settings: 'num_frames=50' },
    });
    expect(await h.answer(bad.id)).toMatch(/num_frames must be a number of the form 4n\+1/);
    expect(h.discord.callbacks(bad.id)[0]?.data).toMatchObject({ flags: 64 });

    // Submitted twice at once with an edited prompt: one job, one paid task.
    const edit = { prompt: 'a boat sinks slowly', seed: '-1' };
    const a = h.discord.submitModal({ fromInteractionId: opened.id, userId: h.userId, fields: edit });
    const b = h.discord.submitModal({ fromInteractionId: opened.id, userId: h.userId, fields: edit });
    await Promise.all([h.answer(a.id), h.answer(b.id)]);
    const remixed = await waitFor(
      () => videoPosts().find((m) => m.content.includes('a boat sinks slowly')),
      'the remix video',
    );
    expect(remixed.content).toContain(`Remix of https://discord.com/channels/`);
    expect(remixed.content).toContain(first.id);
    const jobs = await h.pipeline.queue.queue.getJobs(['completed', 'active', 'waiting', 'delayed']);
    expect(jobs.filter((j) => j.data.parentJobId === jobId)).toHaveLength(1);
    expect(fake.tasksCreated() - tasksBefore).toBe(1);
    const run = fake.runRequests().at(-1)!;
    expect(run.input).toMatchObject({
      prompt: 'a boat sinks slowly',
      negative_prompt: 'blurry',
      num_frames: 49,
    });
    expect(run.input.seed).not.toBe(4242);
    // The same stored image went to the backend.
    const uploaded = (input: Record<string, unknown>) => {
      const uri = JSON.stringify(input).match(/"(?:image|input_image)":"([^"]+)"/)?.[1] ?? '';
      return [...fake.uploads()].find(([id]) => uri.includes(id))?.[1];
    };
    expect(uploaded(run.input)).toBeDefined();
    expect(uploaded(run.input)!.equals(uploaded(original.input)!)).toBe(true);
    const job = await h.pipeline.queue.queue.getJob(`dc-${opened.id}`);
    expect(job?.data.parentJobId).toBe(jobId);
  });
});
