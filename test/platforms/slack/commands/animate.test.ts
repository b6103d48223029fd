import { describe, expect, it, vi } from 'vitest';
import { register } from '../../../../src/platforms/slack/commands/animate.js';
import { SLACK_IDS } from '../../../../src/platforms/slack/context.js';
import { CHANNEL, fakeAck, fakeSlackContext, listenersOf, USER } from '../../../support/slack-listeners.js';

/** The `/animate` listener alone (the end-to-end runs are in ../suite.ts). */

function setup() {
  const kit = fakeSlackContext();
  const handler = listenersOf(register, kit.context)('command', SLACK_IDS.command);
  const ack = fakeAck();
  const respond = vi.fn(async (_message: unknown) => undefined);
  const run = (text: string) =>
    handler({
      command: {
        text,
        user_id: USER,
        channel_id: CHANNEL,
        trigger_id: 'trigger-1',
        response_url: 'https://hooks.slack.test/commands/1',
      },
      ack,
      respond,
      client: kit.client,
    });
  return { ...kit, ack, respond, run };
}

const openedView = (kit: ReturnType<typeof setup>) => kit.client.views.open.mock.calls[0]![0];

describe('/animate (the command listener)', () => {
  it('acks at once and opens the form, filled in from what was typed after the command', async () => {
    const kit = setup();
    await kit.run('a cat yawns num_frames=49');
    expect(kit.ack).toHaveBeenCalledTimes(1);
    expect(kit.ack).toHaveBeenCalledWith();
    expect(kit.client.views.open).toHaveBeenCalledTimes(1);
    const { trigger_id, view } = openedView(kit);
    expect(trigger_id).toBe('trigger-1');
    expect(view.callback_id).toBe(SLACK_IDS.animateView);
    expect(JSON.stringify(view.blocks)).toContain('"initial_value":"a cat yawns"');
    expect(JSON.stringify(view.blocks)).toContain('"initial_value":"num_frames=49"');
    expect(JSON.parse(String(view.private_metadata))).toEqual({
      kind: 'command',
      channel: CHANNEL,
      responseUrl: 'https://hooks.slack.test/commands/1',
    });
    // Asked whether this person may use Kinema here; nothing is queued before the form is sent.
    expect(kit.service.refusal.mock.calls[0]![0]).toMatchObject({
      requester: { platform: 'slack', userId: USER },
      place: { channelId: CHANNEL },
    });
    expect(kit.service.submit).not.toHaveBeenCalled();
    expect(kit.respond).not.toHaveBeenCalled();
  });

  it('answers `/animate help` privately in the ack with every setting, and opens no form', async () => {
    const kit = setup();
    await kit.run('help');
    expect(kit.ack).toHaveBeenCalledTimes(1);
    const [answer] = kit.ack.mock.calls[0]! as [{ response_type: string; text: string }];
    expect(answer.response_type).toBe('ephemeral');
    expect(answer.text).toContain('`/animate [prompt]` opens a form');
    expect(answer.text).toContain('`num_frames`');
    expect(answer.text).toContain('`tea_cache`');
    expect(kit.client.views.open).not.toHaveBeenCalled();
  });

  it('refuses in the ack, in Slack words, where Kinema is not enabled', async () => {
    const kit = setup();
    kit.service.refusal.mockResolvedValueOnce({ reason: 'channel-not-allowed', allowed: ['C0ALLOWED'] });
    await kit.run('a cat yawns');
    expect(kit.ack).toHaveBeenCalledWith({
      response_type: 'ephemeral',
      text: 'Kinema is not enabled here; try <#C0ALLOWED>.',
    });
    expect(kit.client.views.open).not.toHaveBeenCalled();
  });

  it('says privately that the form could not open when Slack refuses the trigger', async () => {
    const kit = setup();
    kit.client.views.open.mockRejectedValueOnce(new Error('An API error occurred: expired_trigger_id'));
    await kit.run('a cat yawns');
    expect(kit.ack).toHaveBeenCalledTimes(1);
    expect(kit.respond).toHaveBeenCalledWith({
      response_type: 'ephemeral',
      text: 'I could not open the form in time. Please run /animate again.',
    });
  });
});
