import { expect, it } from 'vitest';
import { slackSuite } from './suite.js';

slackSuite('http', (h) => {
  it('answers 401 to forged, wrongly signed and stale requests, and runs nothing', async () => {
    const { slack, target, pipeline } = h();
    const before = await pipeline.queue.queue.getJobCounts();
    const viewsBefore = slack.views().length;
    const forged = await slack.deliver(target, 'slash_commands', slack.slashCommand({ text: 'x' }), {
      signature: `v0=${'0'.repeat(64)}`,
    });
    const wrongSecret = await slack.deliver(target, 'slash_commands', slack.slashCommand(), {
      signWith: 'not-the-secret',
    });
    const file = slack.addFile(h().png, { name: 'cat.png' });
    const stale = await slack.deliver(
      target,
      'events_api',
      slack.appMention({ text: `<@${slack.botUserId}> a cat`, files: [file] }),
      { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 },
    );
    const unsigned = await slack.deliver(target, 'slash_commands', slack.slashCommand(), { unsigned: true });
    for (const answer of [forged, wrongSecret, stale, unsigned]) {
      expect(answer).toMatchObject({ status: 401, acked: false });
    }
    expect(slack.views()).toHaveLength(viewsBefore);
    expect(await pipeline.queue.queue.getJobCounts()).toEqual(before);
    expect(slack.fileFetches().filter((f) => f.fileId === file.id)).toHaveLength(0);
  });

  it('serves /healthz beside /slack/events on the same port, and says servesHttp so main binds nothing', async () => {
    const { bot } = h();
    expect(bot?.mode).toBe('http');
    expect(bot?.servesHttp).toBe(true);
    const health = await fetch(`http://127.0.0.1:${bot?.port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok');
    const unknown = await fetch(`http://127.0.0.1:${bot?.port}/videos/${'a'.repeat(20)}/x.mp4`);
    expect(unknown.status).toBe(404);
    const challenge = await h().slack.deliver(h().target, 'events_api', h().slack.urlVerification('xyz'));
    expect(challenge.body).toMatchObject({ challenge: 'xyz' });
  });
});
