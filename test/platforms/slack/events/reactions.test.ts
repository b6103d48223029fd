import { describe, expect, it } from 'vitest';
import { register } from '../../../../src/platforms/slack/events/reactions.js';
import {
  BOT_USER,
  CHANNEL,
  fakeSlackContext,
  listenersOf,
  TEAM,
  USER,
} from '../../../support/slack-listeners.js';
import { STORED_IMAGE } from '../../../support/stub-service.js';

/** The reaction listener alone: 🎲/🔁 rerun, ❌ cancels (the end-to-end runs are in ../suite.ts). */

const STATUS_TS = '1700000000.000100';

function setup() {
  const kit = fakeSlackContext();
  const handler = listenersOf(register, kit.context)('event', 'reaction_added');
  kit.jobsByMessage.set(`${CHANNEL}:${STATUS_TS}`, 'sl-job-1');
  kit.service.record.mockResolvedValue({
    request: { prompt: 'a boat drifts', model: 'wan2.1', seed: 7, input_image: STORED_IMAGE },
    requester: { platform: 'slack', userId: USER },
    reportTo: { platform: 'slack', teamId: TEAM, channel: CHANNEL },
  });
  const react = (reaction: string, extra: { user?: string; item_user?: string; ts?: string } = {}) =>
    handler({
      event: {
        type: 'reaction_added',
        user: extra.user ?? USER,
        reaction,
        item_user: extra.item_user ?? BOT_USER,
        item: { type: 'message', channel: CHANNEL, ts: extra.ts ?? STATUS_TS },
      },
      body: { event_id: 'Ev0REACT' },
    });
  return { ...kit, react };
}

describe('reactions (the event listener)', () => {
  it('❌ on a status message cancels its job for this person and answers with an ephemeral message', async () => {
    const kit = setup();
    await kit.react('x');
    expect(kit.service.cancel).toHaveBeenCalledWith('sl-job-1', {
      userId: USER,
      displayName: 'Alice',
      canModerate: false,
    });
    expect(kit.client.chat.postEphemeral).toHaveBeenCalledWith({
      channel: CHANNEL,
      user: USER,
      text: 'Cancelled before it started.',
    });
  });

  it('🎲 and 🔁 rerun the job with an id from the event, and the new status is the only answer', async () => {
    for (const reaction of ['game_die', 'repeat']) {
      const kit = setup();
      await kit.react(reaction);
      expect(kit.service.rerun).toHaveBeenCalledWith(
        'sl-job-1',
        expect.objectContaining({
          jobId: 'sl-Ev0REACT',
          reportTo: { platform: 'slack', teamId: TEAM, channel: CHANNEL },
        }),
      );
      expect(kit.client.chat.postMessage).toHaveBeenCalledWith(expect.objectContaining({ channel: CHANNEL }));
      expect(kit.client.chat.postEphemeral).not.toHaveBeenCalled();
    }
  });

  it("ignores other emoji, other people's messages, the bot's own reactions and messages with no job", async () => {
    const kit = setup();
    await kit.react('thumbsup');
    await kit.react('x', { item_user: 'U0SOMEONE' });
    await kit.react('x', { user: BOT_USER });
    await kit.react('x', { ts: '1700000000.999999' });
    expect(kit.service.cancel).not.toHaveBeenCalled();
    expect(kit.service.rerun).not.toHaveBeenCalled();
    expect(kit.client.chat.postEphemeral).not.toHaveBeenCalled();
    expect(kit.client.chat.postMessage).not.toHaveBeenCalled();
  });
});
