import { describe, expect, it } from 'vitest';
import { RedisOutage } from '../../src/queue/redis-outage.js';

function recorder() {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const log = {
    error: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'error', fields, msg }),
    info: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'info', fields, msg }),
  };
  return { lines, log: log as never };
}

describe('RedisOutage', () => {
  it('says an outage once, again once a minute with how long it has lasted, and when it ends', () => {
    let now = 1_000_000;
    const { lines, log } = recorder();
    const outage = new RedisOutage(log, { now: () => now });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });

    outage.connectionReady(); // Redis up from the start: nothing to say.
    expect(lines).toEqual([]);

    for (let second = 0; second < 59; second += 1) {
      outage.connectionFailed(refused);
      outage.connectionFailed(refused);
      now += 1_000;
    }
    expect(lines.map((line) => line.msg)).toEqual([
      'Redis is unreachable; waiting for it (repeated once a minute until it is back)',
    ]);
    expect(outage.isDown).toBe(true);

    now += 1_000; // 60 s since the first line
    outage.connectionFailed(refused);
    outage.connectionFailed(refused);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 'error', fields: { downForSeconds: 60 } });
    expect(lines[1]?.msg).toBe('Redis is still unreachable, for 60 s now');

    now += 30_000;
    outage.connectionFailed(refused);
    expect(lines).toHaveLength(2);

    now += 12_400;
    outage.connectionReady();
    outage.connectionReady(); // every other connection coming back says nothing more
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({
      level: 'info',
      fields: { downForSeconds: 102 },
      msg: 'Redis is back after 102 s',
    });
    expect(outage.isDown).toBe(false);

    outage.connectionFailed(refused); // a new outage is news again
    expect(lines).toHaveLength(4);
    expect(lines[3]?.msg).toMatch(/^Redis is unreachable/);
  });
});
