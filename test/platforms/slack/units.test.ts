import { afterEach, describe, expect, it, vi } from 'vitest';
import type { GenerationRequest } from '../../../src/core/request.js';
import { SendScheduler } from '../../../src/platforms/shared/send-scheduler.js';
import { slackAccess } from '../../../src/platforms/slack/intake.js';
import { refusalText } from '../../../src/platforms/slack/refusals.js';
import { escapeMrkdwn, resultMessage, statusMessage } from '../../../src/platforms/slack/render.js';
import { postBucket, slackBudget, updateBucket } from '../../../src/platforms/slack/sender.js';
import { ADVANCED, readSettings, splitMessage } from '../../../src/platforms/slack/settings.js';
import { accessRefusal } from '../../../src/service/checks.js';

const request = {
  prompt: 'a <!channel> cat & <https://evil.example|click>',
  model: 'wan2.1',
  seed: 42,
  input_image: { key: 'k', contentType: 'image/png', bytes: 1, width: 64, height: 64, filename: 'a.png' },
} as GenerationRequest;

describe('Slack message text', () => {
  it('splits a mention into the prompt and trailing known settings; other a=b text stays in the prompt', () => {
    expect(splitMessage('<@U0BOT> the cat yawns num_frames=49 seed=7')).toEqual({
      prompt: 'the cat yawns',
      advanced: 'num_frames=49 seed=7',
    });
    expect(splitMessage('<@U0BOT> e=mc2 is the &lt;answer&gt; steps=20')).toEqual({
      prompt: 'e=mc2 is the <answer>',
      advanced: 'steps=20',
    });
    expect(splitMessage('<@U0BOT>   ')).toEqual({ prompt: '', advanced: '' });
  });
});

describe('settings from a modal or a mention', () => {
  it('lets typed fields win over advanced and files each error under the field or `advanced` it came from', () => {
    const ok = readSettings({ prompt: 'x', seed: '5' }, 'seed=9 shift=3');
    expect(ok).toEqual({ ok: true, value: { prompt: 'x', seed: 5, shift: 3 } });
    const bad = readSettings({ prompt: 'x', num_frames: '80' }, 'steps=0 colour=red');
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.bySource.get('num_frames')?.join()).toMatch(/4n\+1/);
    expect(bad.bySource.get(ADVANCED)?.join()).toMatch(/unknown setting colour/);
    expect(bad.bySource.get(ADVANCED)?.join()).toMatch(/num_inference_steps must be/);
    const unreadable = readSettings({ prompt: 'x' }, 'shift="3');
    expect(unreadable.ok ? [] : unreadable.bySource.get(ADVANCED)).toHaveLength(1);
  });
});

describe('Slack rendering', () => {
  it('escapes user text, shows the ETA as a Slack date, and offers Cancel only while running', () => {
    const etaAt = Date.now() + 120_000;
    const active = statusMessage(
      {
        jobId: 'sl-1',
        state: 'active',
        request,
        progress: { phase: 'running', percent: 40, etaAt, updatedAt: Date.now() },
      },
      { requesterId: 'U1' },
    );
    const all = JSON.stringify(active.blocks);
    expect(all).toContain(`<!date^${Math.round(etaAt / 1000)}^{time}|`);
    expect(all).toContain('40%');
    expect(all).toContain('Seed: 42');
    expect(all).toContain('&lt;!channel&gt;');
    expect(all).not.toContain('<!channel>');
    expect(all).toContain('kinema_cancel');
    expect(active.text).not.toContain('<!channel>');
    const done = statusMessage({
      jobId: 'sl-1',
      state: 'cancelled',
      request,
      outcome: { kind: 'cancelled' },
    });
    expect(JSON.stringify(done.blocks)).not.toContain('kinema_cancel');
    expect(JSON.stringify(done.blocks)).toContain('kinema_rerun');
    const result = resultMessage('sl-1', request, { requesterId: 'U1', notes: [], parentJobId: 'sl-0' });
    expect(JSON.stringify(result.blocks)).toContain('seed 42');
    expect(JSON.stringify(result.blocks)).toContain('Rerun of `sl-0`');
    expect(escapeMrkdwn('<@U1> & co')).toBe('&lt;@U1&gt; &amp; co');
  });
});

describe('edit budget', () => {
  afterEach(() => vi.useRealTimers());

  it('allows so many edits per minute per workspace, and none while paused after a 429', async () => {
    vi.useFakeTimers();
    const scheduler = new SendScheduler(slackBudget(2));
    const sent: number[] = [];
    const start = Date.now();
    const edit = (team = 'T1') =>
      scheduler.send({
        bucket: updateBucket(team),
        priority: 'urgent',
        run: async () => sent.push(Date.now() - start),
      });
    void edit();
    void edit();
    void edit();
    void edit('T2');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([0, 0, 0]);
    await vi.advanceTimersByTimeAsync(60_001);
    expect(sent).toHaveLength(4);
    scheduler.rateLimited(updateBucket('T1'), 30_000);
    void edit();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(sent).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toHaveLength(5);
    expect(sent[4]).toBeGreaterThanOrEqual(60_000 + 30_000);
    // A channel's posts have their own budget: one a second.
    const posts: number[] = [];
    for (let i = 0; i < 3; i++)
      void scheduler.send({
        bucket: postBucket('C1'),
        priority: 'urgent',
        run: async () => posts.push(Date.now()),
      });
    await vi.advanceTimersByTimeAsync(0);
    expect(posts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(posts).toHaveLength(3);
    scheduler.close();
  });
});

describe('channel allowlist', () => {
  it('answers everywhere when SLACK_ALLOWED_CHANNELS is empty, and only there otherwise', () => {
    const refusal = (allowed: string[], channel: string) => {
      const refused = accessRefusal(slackAccess({ SLACK_ALLOWED_CHANNELS: allowed }), {
        channelId: channel,
        isDirectMessage: channel.startsWith('D'),
      });
      return refused && refusalText(refused);
    };
    expect(refusal([], 'C1')).toBeUndefined();
    expect(refusal(['C1'], 'C1')).toBeUndefined();
    expect(refusal(['C1'], 'C2')).toMatch(/not enabled here; try <#C1>/);
    // Direct messages are held to the list like any conversation.
    expect(refusal([], 'D1')).toBeUndefined();
    expect(refusal(['C1'], 'D1')).toMatch(/not enabled here; try <#C1>/);
  });
});
