import { describe, expect, it } from 'vitest';
import { register } from '../../../../src/platforms/slack/events/mentions.js';
import type { SubmitInput } from '../../../../src/service/generation-service.js';
import {
  BOT_USER,
  CHANNEL,
  fakeSlackContext,
  listenersOf,
  TEAM,
  USER,
} from '../../../support/slack-listeners.js';

/** The mention listener alone: `@Kinema <prompt>` with an image (the end-to-end runs are in ../suite.ts). */

const TS = '1700000000.000300';
const IMAGE = {
  id: 'F0IMAGE',
  name: 'cat.png',
  mimetype: 'image/png',
  filetype: 'png',
  size: 2048,
  url_private_download: 'https://files.slack.com/files-pri/T0TEAM-F0IMAGE/download/cat.png',
};
const PDF = { id: 'F0PDF', name: 'notes.pdf', mimetype: 'application/pdf', filetype: 'pdf', size: 100 };

function setup() {
  const kit = fakeSlackContext();
  const listener = listenersOf(register, kit.context);
  const mention = (event: Record<string, unknown>) =>
    listener(
      'event',
      'app_mention',
    )({
      event: { type: 'app_mention', user: USER, channel: CHANNEL, ts: TS, ...event },
    });
  const message = (event: Record<string, unknown>) =>
    listener(
      'event',
      'message',
    )({
      event: { type: 'message', user: USER, channel: CHANNEL, ts: TS, channel_type: 'channel', ...event },
    });
  const ephemerals = () => kit.client.chat.postEphemeral.mock.calls.map(([args]) => args);
  return { ...kit, mention, message, ephemerals };
}

describe('mentions (the event listener)', () => {
  it('submits the image and prompt of the message, in a thread under it, and posts the status there', async () => {
    const kit = setup();
    await kit.mention({ text: `<@${BOT_USER}> the cat yawns num_frames=49`, files: [IMAGE] });
    expect(kit.service.submit).toHaveBeenCalledTimes(1);
    const input = kit.service.submit.mock.calls[0]![0] as SubmitInput;
    expect(input).toMatchObject({
      jobId: `sl-m-${CHANNEL}-${TS}`,
      settings: { prompt: 'the cat yawns', num_frames: 49 },
      origin: { requester: { platform: 'slack', userId: USER, displayName: 'Alice', scopeId: TEAM } },
      reportTo: { platform: 'slack', teamId: TEAM, channel: CHANNEL, threadTs: TS },
    });
    // The image is fetched with the bot token from Slack's file host, and only from there.
    const source = input.images.input_image;
    if (!('resolve' in source)) throw new Error('a Slack file is resolved only after the checks');
    expect(await source.resolve()).toMatchObject({
      url: IMAGE.url_private_download,
      allowedHosts: ['files.slack.com'],
      headers: { Authorization: 'Bearer xoxb-test' },
    });
    expect(kit.client.chat.postMessage).toHaveBeenCalledWith(
      expect.objectContaining({ channel: CHANNEL, thread_ts: TS }),
    );
    expect(kit.ephemerals()).toEqual([]);
  });

  it('starts one job when the same message also arrives as a message event', async () => {
    const kit = setup();
    const text = `<@${BOT_USER}> the cat yawns`;
    await kit.mention({ text, files: [IMAGE] });
    await kit.message({ text, files: [IMAGE], subtype: 'file_share' });
    expect(kit.service.submit).toHaveBeenCalledTimes(1);
  });

  it('explains how to ask when the mention has no image, privately in the thread', async () => {
    const kit = setup();
    await kit.mention({ text: `<@${BOT_USER}> make it move` });
    expect(kit.service.submit).not.toHaveBeenCalled();
    expect(kit.ephemerals()).toEqual([
      expect.objectContaining({
        channel: CHANNEL,
        user: USER,
        thread_ts: TS,
        text: expect.stringMatching(/^Attach an image/),
      }),
    ]);
  });

  it('names a file that is not an image, and asks for a prompt when there is none', async () => {
    const kit = setup();
    await kit.mention({ text: `<@${BOT_USER}> the cat yawns`, files: [PDF] });
    await kit.mention({ text: `<@${BOT_USER}>`, files: [IMAGE], ts: '1700000000.000400' });
    expect(kit.service.submit).not.toHaveBeenCalled();
    expect(kit.ephemerals().map((args) => args.text)).toEqual([
      '“notes.pdf” is not an image; attach a PNG, JPEG or WebP.',
      'Add a prompt to your message: what should happen in the video?',
    ]);
  });

  it('takes an image sent to the app in a DM without a mention, and answers in the DM itself', async () => {
    const kit = setup();
    await kit.message({
      channel: 'D0DM',
      channel_type: 'im',
      text: 'a dog runs',
      files: [IMAGE],
      subtype: 'file_share',
    });
    expect(kit.service.submit.mock.calls[0]![0]).toMatchObject({
      jobId: `sl-m-D0DM-${TS}`,
      settings: { prompt: 'a dog runs' },
      reportTo: { platform: 'slack', teamId: TEAM, channel: 'D0DM' },
    });
    expect((kit.service.submit.mock.calls[0]![0] as SubmitInput).reportTo).not.toHaveProperty('threadTs');
  });

  it('leaves channel messages without a mention, and bots, alone', async () => {
    const kit = setup();
    await kit.message({ text: 'just chatting', files: [IMAGE], subtype: 'file_share' });
    await kit.mention({ text: `<@${BOT_USER}> hi`, files: [IMAGE], bot_id: 'B0OTHER' });
    expect(kit.service.submit).not.toHaveBeenCalled();
    expect(kit.ephemerals()).toEqual([]);
  });
});
