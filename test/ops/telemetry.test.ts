import { describe, expect, it } from 'vitest';
import { ConfigurationError, TransientError } from '../../src/core/errors.js';
import { errorKind, listenToTelemetry, telemetry } from '../../src/core/telemetry.js';
import { AdminSessions } from '../../src/ops/admin/sessions.js';

describe('telemetry', () => {
  it('reaches every listener, survives one that throws, and stops at detach', () => {
    const heard: string[] = [];
    const detachBroken = listenToTelemetry({
      acked: () => {
        throw new Error('a broken listener');
      },
    });
    const detach = listenToTelemetry({ acked: (event) => heard.push(event.platform) });
    expect(() => telemetry.acked({ platform: 'discord', seconds: 0.02 })).not.toThrow();
    detach();
    telemetry.acked({ platform: 'slack', seconds: 0.02 });
    detachBroken();
    expect(heard).toEqual(['discord']);
  });

  it('labels errors by their class', () => {
    expect(errorKind(new TransientError('503'))).toBe('transient');
    expect(errorKind(new ConfigurationError('bad key'))).toBe('configuration');
    expect(errorKind(new Error('x'))).toBe('error');
    expect(errorKind('a string')).toBe('unknown');
  });
});

describe('admin sessions', () => {
  it('opens a session for the right token only, and locks the login after ten wrong ones in a minute', () => {
    let now = 1_000_000;
    const sessions = new AdminSessions('the-right-admin-token', () => now);
    expect(sessions.login('the-right-admin-tokeN')).toBe('refused');
    expect(sessions.login('')).toBe('refused');
    const opened = sessions.login('the-right-admin-token');
    expect(opened).toMatchObject({ session: { csrf: expect.stringMatching(/^[\w-]{43}$/) } });
    for (let i = 0; i < 8; i += 1) sessions.login('wrong');
    expect(sessions.login('the-right-admin-token')).toBe('throttled');
    now += 61_000;
    expect(typeof sessions.login('the-right-admin-token')).toBe('object');
  });
});
