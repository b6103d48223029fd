import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendContinuation, countFrames, dropLastFrame } from '../../src/media/video.js';
import { decodeFrame, makeMp4, makeOverlappingClips, meanDifference, tempDir } from '../support/media.js';

let dir: string;
let cleanup: () => Promise<void>;
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('edit'));
});

afterAll(async () => {
  await cleanup();
});

/** Re-encoding at CRF 18 changes decoded values by a little; another frame differs by far more. */
const SAME = 4;

describe('appendContinuation', () => {
  it('joins original and continuation without repeating the shared frame', async () => {
    await makeOverlappingClips(file('a.mp4'), file('b.mp4'), { originalFrames: 20, continuationFrames: 17 });
    const joined = await appendContinuation(file('a.mp4'), file('b.mp4'), file('ab.mp4'));
    expect(joined).toMatchObject({
      codec: 'h264',
      pixFmt: 'yuv420p',
      fastStart: true,
      width: 320,
      height: 240,
      frameRate: 16,
    });
    expect(await countFrames(file('ab.mp4'), { decode: true })).toBe(20 + 17 - 1);
    expect(joined.durationSeconds).toBeCloseTo((20 + 17 - 1) / 16, 2);

    // The first frames are the original's, and the original's last frame is shown once.
    for (const index of [0, 1, 10, 19]) {
      const original = await decodeFrame(file('a.mp4'), index, dir);
      expect(meanDifference(await decodeFrame(file('ab.mp4'), index, dir), original)).toBeLessThan(SAME);
    }
    // After the seam comes the continuation's second frame, not its first (a repeat).
    const afterSeam = await decodeFrame(file('ab.mp4'), 20, dir);
    expect(meanDifference(afterSeam, await decodeFrame(file('b.mp4'), 1, dir))).toBeLessThan(SAME);
    expect(meanDifference(afterSeam, await decodeFrame(file('b.mp4'), 0, dir))).toBeGreaterThan(SAME);
    const end = await decodeFrame(file('ab.mp4'), 35, dir);
    expect(meanDifference(end, await decodeFrame(file('b.mp4'), 16, dir))).toBeLessThan(SAME);
  });

  it("brings a continuation of another size and rate to the original's", async () => {
    await makeMp4(file('c.mp4'), { width: 320, height: 240, fps: 16, seconds: 1 });
    await makeMp4(file('d.mp4'), { width: 640, height: 480, fps: 24, seconds: 1 });
    const joined = await appendContinuation(file('c.mp4'), file('d.mp4'), file('cd.mp4'));
    expect(joined).toMatchObject({ width: 320, height: 240, frameRate: 16, codec: 'h264', fastStart: true });
    // 16 frames of original, then the continuation's second 1/16 s onwards: 15 frames.
    expect(await countFrames(file('cd.mp4'), { decode: true })).toBe(31);
    expect(joined.durationSeconds).toBeCloseTo(31 / 16, 2);
    const first = await decodeFrame(file('c.mp4'), 0, dir);
    expect(meanDifference(await decodeFrame(file('cd.mp4'), 0, dir), first)).toBeLessThan(SAME);
  });

  it('leaves no output when a part is not a video', async () => {
    await makeMp4(file('ok.mp4'), { seconds: 0.5 });
    await expect(appendContinuation(file('ok.mp4'), file('missing.mp4'), file('bad.mp4'))).rejects.toThrow();
    await expect(stat(file('bad.mp4'))).rejects.toThrow();
  });
});

describe('dropLastFrame', () => {
  it('writes the video one frame shorter, as H.264 yuv420p with faststart', async () => {
    await makeMp4(file('loop.mp4'), { seconds: 1, fps: 16 });
    const before = await countFrames(file('loop.mp4'), { decode: true });
    expect(before).toBe(16);
    const out = await dropLastFrame(file('loop.mp4'), file('loop-trim.mp4'));
    expect(out).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', fastStart: true, width: 320, height: 240 });
    expect(await countFrames(file('loop-trim.mp4'), { decode: true })).toBe(before - 1);
    expect(out.durationSeconds).toBeCloseTo(15 / 16, 2);
    const last = await decodeFrame(file('loop.mp4'), 14, dir);
    expect(meanDifference(await decodeFrame(file('loop-trim.mp4'), 14, dir), last)).toBeLessThan(SAME);
  });
});
