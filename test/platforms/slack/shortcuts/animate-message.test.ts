import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SLACK_IDS } from '../../../../src/platforms/slack/context.js';
import { register } from '../../../../src/platforms/slack/shortcuts/animate-message.js';
import {
  CHANNEL,
  captureResponseUrlPosts,
  fakeAck,
  fakeSlackContext,
  listenersOf,
  USER,
} from '../../../support/slack-listeners.js';

/** The "Animate this image" message shortcut alone (the end-to-end runs are in ../suite.ts). */

const RESPONSE_URL = 'https://hooks.slack.test/actions/2';
const MESSAGE_TS = '1700000000.000500';
let posts: ReturnType<typeof captureResponseUrlPosts>;

beforeEach(() => {
  posts = captureResponseUrlPosts();
});
afterEach(() => vi.unstubAllGlobals());

function setup() {
  const kit = fakeSlackContext();
  const handler = listenersOf(register, kit.context)('shortcut', SLACK_IDS.animateMessageShortcut);
  const ack = fakeAck();
  const run = (files: unknown[], message: Record<string, unknown> = {}) =>
    handler({
      ack,
      client: kit.client,
      shortcut: {
        type: 'message_action',
        callback_id: SLACK_IDS.animateMessageShortcut,
        trigger_id: 'trigger-2',
        response_url: RESPONSE_URL,
        user: { id: USER },
        channel: { id: CHANNEL },
        message: { ts: MESSAGE_TS, text: 'look at this', files, ...message },
      },
    });
  return { ...kit, ack, run };
}

const told = () => posts.map((post) => post.body.text);

describe('"Animate this image" (the shortcut listener)', () => {
  it("acks at once and opens the form for the message's image, to answer in its thread", async () => {
    const kit = setup();
    await kit.run([{ id: 'F0IMAGE', name: 'cat.png', mimetype: 'image/png' }]);
    expect(kit.ack).toHaveBeenCalledTimes(1);
    expect(kit.client.views.open).toHaveBeenCalledTimes(1);
    const { trigger_id, view } = kit.client.views.open.mock.calls[0]![0];
    expect(trigger_id).toBe('trigger-2');
    expect(view.callback_id).toBe(SLACK_IDS.animateView);
    expect(JSON.parse(String(view.private_metadata))).toEqual({
      kind: 'shortcut',
      channel: CHANNEL,
      threadTs: MESSAGE_TS,
      responseUrl: RESPONSE_URL,
      file: { id: 'F0IMAGE', name: 'cat.png' },
    });
    expect(told()).toEqual([]);
  });

  it('keeps a threaded message in its thread', async () => {
    const kit = setup();
    await kit.run([{ id: 'F0IMAGE', mimetype: 'image/jpeg' }], { thread_ts: '1699999999.000001' });
    const { view } = kit.client.views.open.mock.calls[0]![0];
    expect(JSON.parse(String(view.private_metadata))).toMatchObject({ threadTs: '1699999999.000001' });
  });

  it('says privately what is wrong with a message without an image, and opens no form', async () => {
    const kit = setup();
    await kit.run([]);
    await kit.run([{ id: 'F0PDF', name: 'notes.pdf', mimetype: 'application/pdf', filetype: 'pdf' }]);
    expect(kit.ack).toHaveBeenCalledTimes(2);
    expect(kit.client.views.open).not.toHaveBeenCalled();
    expect(told()).toEqual([
      'That message has no image. Pick a message with a PNG, JPEG or WebP image attached.',
      'The file on that message is not an image. Pick a message with a PNG, JPEG or WebP image.',
    ]);
  });

  it('refuses in Slack words where Kinema is not enabled', async () => {
    const kit = setup();
    kit.service.refusal.mockResolvedValueOnce({ reason: 'channel-not-allowed', allowed: ['C0ALLOWED'] });
    await kit.run([{ id: 'F0IMAGE', mimetype: 'image/png' }]);
    expect(kit.client.views.open).not.toHaveBeenCalled();
    expect(told()).toEqual(['Kinema is not enabled here; try <#C0ALLOWED>.']);
  });

  it('says so when the form could not open in time', async () => {
    const kit = setup();
    kit.client.views.open.mockRejectedValueOnce(new Error('An API error occurred: expired_trigger_id'));
    await kit.run([{ id: 'F0IMAGE', mimetype: 'image/png' }]);
    expect(told()).toEqual(['I could not open the form in time. Please try the shortcut again.']);
  });
});
