import { expect, it } from 'vitest';
import { slackSuite } from './suite.js';

slackSuite('socket', (h) => {
  it('connected through apps.connections.open with the app token, and serves no HTTP port itself', () => {
    expect(h().bot?.mode).toBe('socket');
    expect(h().bot?.servesHttp).toBe(false);
    expect(h().slack.calls('apps.connections.open')).toMatchObject([{ auth: 'app', ok: true }]);
    // Bolt was given the identity: no second auth.test of its own.
    expect(h().slack.calls('auth.test')).toHaveLength(1);
  });
});
