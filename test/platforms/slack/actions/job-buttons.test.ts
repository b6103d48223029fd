import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../../../src/platforms/slack/actions/job-buttons.js';
import { SLACK_IDS } from '../../../../src/platforms/slack/context.js';
import { RefusedError } from '../../../../src/service/refusals.js';
import {
  CHANNEL,
  captureResponseUrlPosts,
  fakeAck,
  fakeSlackContext,
  listenersOf,
  TEAM,
  USER,
} from '../../../support/slack-listeners.js';
import { STORED_IMAGE } from '../../../support/stub-service.js';

/** The Cancel and Rerun buttons' listener alone (the end-to-end runs are in ../suite.ts). */

const RESPONSE_URL = 'https://hooks.slack.test/actions/1';
let posts: ReturnType<typeof captureResponseUrlPosts>;

beforeEach(() => {
  posts = captureResponseUrlPosts();
});
afterEach(() => vi.unstubAllGlobals());

function setup(actionId: string) {
  const kit = fakeSlackContext();
  const handler = listenersOf(register, kit.context)('action', actionId);
  const ack = fakeAck();
  const click = (jobId: string, userId = USER) =>
    handler({
      ack,
      action: { type: 'button', action_id: actionId, value: jobId, action_ts: '1700000000.000200' },
      body: {
        type: 'block_actions',
        user: { id: userId, name: 'alice' },
        channel: { id: CHANNEL },
        response_url: RESPONSE_URL,
      },
    });
  return { ...kit, ack, click };
}

const parentRecord = (requesterId: string, threadTs?: string) => ({
  request: { prompt: 'a boat drifts', model: 'wan2.1' as const, seed: 7, input_image: STORED_IMAGE },
  requester: { platform: 'slack', userId: requesterId },
  reportTo: { platform: 'slack', teamId: TEAM, channel: CHANNEL, ...(threadTs ? { threadTs } : {}) },
});

const answers = () => posts.map((post) => post.body);

describe('Cancel (the button listener)', () => {
  it('acks, asks the service to cancel for this person, and tells them privately how it went', async () => {
    const kit = setup(SLACK_IDS.cancelAction);
    kit.service.record.mockResolvedValueOnce(parentRecord(USER));
    await kit.click('sl-job-1');
    expect(kit.ack).toHaveBeenCalledTimes(1);
    expect(kit.service.cancel).toHaveBeenCalledWith('sl-job-1', {
      userId: USER,
      displayName: 'Alice',
      canModerate: false,
    });
    expect(posts.map((post) => post.url)).toEqual([RESPONSE_URL]);
    expect(answers()).toEqual([
      { response_type: 'ephemeral', replace_original: false, text: 'Cancelled before it started.' },
    ]);
  });

  it("asks whether someone else's job may be cancelled by them, and words the service's refusal", async () => {
    const kit = setup(SLACK_IDS.cancelAction);
    kit.service.record.mockResolvedValueOnce(parentRecord('U0SOMEONE'));
    kit.service.cancel.mockRejectedValueOnce(new RefusedError({ reason: 'not-owner' }));
    await kit.click('sl-job-1');
    expect(kit.users.canModerate).toHaveBeenCalledWith(USER);
    expect(kit.service.cancel.mock.calls[0]![1]).toMatchObject({ userId: USER, canModerate: false });
    expect(answers().map((answer) => answer.text)).toEqual([
      'Only the person who asked for this video (or a workspace admin) can cancel it.',
    ]);
  });
});

describe('Rerun (the button listener)', () => {
  it('acks, reruns where the parent was reported with an id of its own, and posts the new status there', async () => {
    const kit = setup(SLACK_IDS.rerunAction);
    kit.service.record.mockResolvedValueOnce(parentRecord(USER, '1699999999.000100'));
    await kit.click('sl-job-1');
    expect(kit.ack).toHaveBeenCalledTimes(1);
    expect(kit.service.rerun).toHaveBeenCalledTimes(1);
    const [parent, input] = kit.service.rerun.mock.calls[0]!;
    expect(parent).toBe('sl-job-1');
    expect(input).toMatchObject({
      jobId: `sl-b-${USER}-1700000000.000200`,
      origin: { requester: { platform: 'slack', userId: USER, displayName: 'alice', scopeId: TEAM } },
      reportTo: { platform: 'slack', teamId: TEAM, channel: CHANNEL, threadTs: '1699999999.000100' },
    });
    expect(kit.client.chat.postMessage).toHaveBeenCalledWith(
      expect.objectContaining({ channel: CHANNEL, thread_ts: '1699999999.000100' }),
    );
    expect(kit.feed.track).toHaveBeenCalledWith(`sl-b-${USER}-1700000000.000200`, expect.anything());
    // Nothing to say: the new status message is the answer.
    expect(posts).toEqual([]);
  });

  it('says so privately when the parent is too old to rerun, and starts nothing', async () => {
    const kit = setup(SLACK_IDS.rerunAction);
    await kit.click('sl-job-gone');
    expect(kit.service.rerun).not.toHaveBeenCalled();
    expect(answers().map((answer) => answer.text)).toEqual([
      'That video is too old to rerun (its settings have expired); start a new /animate',
    ]);
  });

  it('tells a double click that the rerun is already on its way', async () => {
    const kit = setup(SLACK_IDS.rerunAction);
    kit.service.record.mockResolvedValueOnce(parentRecord(USER));
    kit.service.rerun.mockImplementationOnce(async (_parent, input) => ({
      jobId: input.jobId,
      duplicate: true,
      request: { prompt: 'a boat drifts', model: 'wan2.1', seed: 8, input_image: STORED_IMAGE },
    }));
    await kit.click('sl-job-1');
    expect(kit.client.chat.postMessage).not.toHaveBeenCalled();
    expect(answers().map((answer) => answer.text)).toEqual(['Already rerunning that one.']);
  });
});
