import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DiscordHarness, startDiscordHarness } from '../../support/discord-harness.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

const redis = testRedis();
let h: DiscordHarness;

const botMessages = () => h.discord.messages(h.channelId).filter((m) => m.authorId === h.discord.botUserId);
const videoPosts = () => botMessages().filter((m) => m.attachments.some((a) => a.filename.endsWith('.mp4')));
const embedTitle = (id: string) =>
  (h.discord.message(id)?.embeds[0] as { title?: string } | undefined)?.title ?? '';
const ephemeralReply = (interactionId: string) => h.answer(interactionId);

function animate(options: Record<string, unknown> = {}, userId = h.userId) {
  return h.discord.invokeSlashCommand({
    userId,
    channelId: h.channelId,
    name: 'animate',
    options: {
      image: { bytes: h.png, filename: 'cat.png', contentType: 'image/png' },
      prompt: 'the cat yawns',
      ...options,
    } as never,
  });
}

beforeAll(async () => {
  h = await startDiscordHarness();
  await h.startBot();
});

afterEach(() => {
  h.service.holdNewTasks(false);
  h.service.release();
  h.discord.clearRateLimits();
});

afterAll(async () => {
  await h.worker?.close();
  await h.close(redis);
  await redis.quit();
});

describe('Discord /animate end to end through the real discord.js', () => {
  it('registers the commands with one bulk overwrite, derived from the request schema', () => {
    const commands = h.discord.commands(h.discord.guild('Studio').id);
    const animateCommand = commands.find((command) => command.name === 'animate') as {
      options: { name: string; type: number; required?: boolean; choices?: unknown[] }[];
    };
    expect(commands.map((command) => command.name).sort()).toEqual([
      'Animate this image',
      'animate',
      'kinema',
      'kinema-admin',
    ]);
    const names = animateCommand.options.map((option) => option.name);
    expect(names.slice(0, 2)).toEqual(['image', 'prompt']);
    expect(names).toEqual(
      expect.arrayContaining([
        'end_frame',
        'model',
        'size',
        'num_frames',
        'fps',
        'seed',
        'negative_prompt',
        'guidance_scale',
        'num_inference_steps',
        'advanced',
      ]),
    );
    expect(animateCommand.options.find((option) => option.name === 'model')?.choices).toHaveLength(4);
  });

  it('acks at once, makes its public reply the status message, keeps it current, and posts the mp4 with the bot token after the token expired', async () => {
    h.service.holdNewTasks(true);
    await h.startWorker();
    const invoked = animate({ seed: 1234 });
    const reply = await ephemeralReply(invoked.id);
    expect(reply).toMatch(/Queued/);
    const callbacks = h.discord.callbacks(invoked.id);
    // A public defer whose answer names the message that becomes the status (with_response).
    expect(callbacks[0]).toMatchObject({ type: 5, status: 200, withResponse: true });
    // The interaction token dies (15 minutes in real life): nothing after this may depend on it.
    h.discord.expireInteractionTokens(invoked.id);
    const status = await waitFor(() => botMessages().find((m) => m.embeds.length > 0), 'the status message');
    await waitFor(() => /Waiting for a GPU|Generating/.test(embedTitle(status.id)), 'a running status');
    h.service.release();
    const post = await waitFor(() => videoPosts()[0], 'the video post');
    expect(h.discord.attachmentBytes(post.id, 0).equals(h.video)).toBe(true);
    expect(post.content).toMatch(/the cat yawns/);
    expect(post.content).toMatch(/seed 1234/);
    expect(post.content).toMatch(/Wan 2\.1/);
    expect(post.content).toContain(`<@${h.userId}>`);
    await waitFor(() => embedTitle(status.id) === 'Done', 'the status to say Done');
    expect(h.discord.message(status.id)!.editCount).toBeGreaterThanOrEqual(2);
    const statusRequests = h.discord.requests.filter((r) => r.path.includes(`/messages/${status.id}`));
    expect(statusRequests.every((r) => r.auth === 'bot')).toBe(true);
  });

  it('refuses a non-image attachment and a too long prompt in an ephemeral message, queueing nothing', async () => {
    const before = await h.pipeline.queue.queue.getJobCounts();
    const pdf = animate({
      image: { bytes: Buffer.from('%PDF-1.4 fake'), filename: 'doc.pdf', contentType: 'application/pdf' },
    });
    expect(await ephemeralReply(pdf.id)).toMatch(/not an image/);
    const long = animate({
      prompt: 'x'.repeat(1400),
      advanced: `negative_prompt="${'y'.repeat(10)}" num_frames=80`,
    });
    expect(await ephemeralReply(long.id)).toMatch(/num_frames must be a number of the form 4n\+1/);
    const tooLong = animate({ advanced: `negative_prompt="${'n'.repeat(1501)}"` });
    expect(await ephemeralReply(tooLong.id)).toMatch(
      /negative_prompt must be 0 to 1500 characters \(it has 1501\)/,
    );
    const badAdvanced = animate({ advanced: 'colour=red' });
    expect(await ephemeralReply(badAdvanced.id)).toMatch(/unknown setting colour/);
    const after = await h.pipeline.queue.queue.getJobCounts();
    expect(after).toEqual(before);
  });

  it('animates the image of a message picked with "Animate this image", asking for the prompt in a modal', async () => {
    const source = h.discord.createMessage({
      channelId: h.channelId,
      authorId: h.otherUserId,
      content: 'look at my cat',
      attachments: [{ bytes: h.png, filename: 'mycat.png', contentType: 'image/png' }],
    });
    const menu = h.discord.invokeMessageCommand({
      userId: h.userId,
      channelId: h.channelId,
      name: 'Animate this image',
      targetMessageId: source.id,
    });
    await waitFor(() => h.discord.callbacks(menu.id).find((callback) => callback.type === 9), 'the modal');
    // The status shows "Queued" first when the channel has room; else its first state is a later one.
    await h.channelIdle();
    const submitted = h.discord.submitModal({
      userId: h.userId,
      fromInteractionId: menu.id,
      fields: { prompt: 'the cat from the message blinks', advanced: 'seed=4242' },
    });
    expect(await ephemeralReply(submitted.id)).toMatch(/Queued/);
    const post = await waitFor(
      () => videoPosts().find((message) => message.content.includes('the cat from the message blinks')),
      'the video',
    );
    expect(post.content).toMatch(/seed 4242/);

    const text = h.discord.createMessage({
      channelId: h.channelId,
      authorId: h.otherUserId,
      content: 'no image',
    });
    // An immediate reply counts against the channel's budget: it goes at once when there is room.
    await h.channelIdle();
    const refused = h.discord.invokeMessageCommand({
      userId: h.userId,
      channelId: h.channelId,
      name: 'Animate this image',
      targetMessageId: text.id,
    });
    await waitFor(() => h.discord.callbacks(refused.id)[0], 'the answer');
    expect(h.discord.callbacks(refused.id)[0]).toMatchObject({ type: 4 });
    expect(JSON.stringify(h.discord.callbacks(refused.id)[0]!.data)).toMatch(/has no image attached/);
  });
});
