import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countFrames,
  lastFrame,
  posterFrame,
  prepareForDelivery,
  probeVideo,
  sampleFrames,
} from '../../src/media/video.js';
import {
  decodeFrame,
  makeColourMp4,
  makeMp4,
  meanDifference,
  QUICK_H264,
  rgbOf,
  runFfmpeg,
  tempDir,
} from '../support/media.js';

let dir: string;
let cleanup: () => Promise<void>;
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('frames'));
});

afterAll(async () => {
  await cleanup();
});

/** Average R, G and B of raw RGB pixels. */
function meanColour(rgb: Buffer): [number, number, number] {
  const sums = [0, 0, 0];
  for (let i = 0; i < rgb.length; i += 1) sums[i % 3]! += rgb[i]!;
  const pixels = rgb.length / 3;
  return [sums[0]! / pixels, sums[1]! / pixels, sums[2]! / pixels];
}

describe('lastFrame', () => {
  it('writes exactly the last decoded frame as a full-resolution PNG, not a keyframe near the end', async () => {
    // B-frames and a keyframe only every 12 frames: the last frame is far from any keyframe.
    await runFfmpeg([
      ...['-f', 'lavfi', '-i', 'testsrc2=size=832x480:rate=16:duration=2.0625'],
      ...[
        '-c:v',
        'libx264',
        '-preset',
        'medium',
        '-bf',
        '3',
        '-g',
        '12',
        '-pix_fmt',
        'yuv420p',
        file('tail.mp4'),
      ],
    ]);
    const frames = await countFrames(file('tail.mp4'), { decode: true });
    expect(frames).toBe(33);
    await lastFrame(file('tail.mp4'), file('tail-last.png'));
    const png = await readFile(file('tail-last.png'));
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 832, height: 480 });
    const got = await rgbOf(png);
    expect(meanDifference(got, await decodeFrame(file('tail.mp4'), frames - 1, dir))).toBeLessThan(0.5);
    // The frame before it (and the last keyframe) really look different, so the check above can fail.
    expect(meanDifference(got, await decodeFrame(file('tail.mp4'), frames - 2, dir))).toBeGreaterThan(1);
    expect(meanDifference(got, await decodeFrame(file('tail.mp4'), 24, dir))).toBeGreaterThan(1);
  });

  it('finds the last video frame when an audio track runs longer than the video', async () => {
    await runFfmpeg([
      ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=24:duration=2'],
      ...['-f', 'lavfi', '-i', 'sine=duration=4'],
      ...QUICK_H264,
      ...['-c:a', 'aac', file('long-audio.mp4')],
    ]);
    await lastFrame(file('long-audio.mp4'), file('long-audio.png'));
    const frames = await countFrames(file('long-audio.mp4'));
    expect(frames).toBe(48);
    const reference = await decodeFrame(file('long-audio.mp4'), frames - 1, dir);
    expect(meanDifference(await rgbOf(file('long-audio.png')), reference)).toBeLessThan(0.5);
  });

  it('refuses a file that is not a video, leaving no output', async () => {
    await writeFile(file('junk.mp4'), Buffer.alloc(2000, 7));
    await expect(lastFrame(file('junk.mp4'), file('junk.png'))).rejects.toThrow();
    await expect(stat(file('junk.png'))).rejects.toThrow();
  });
});

describe('sampleFrames', () => {
  beforeAll(async () => {
    await makeColourMp4(file('colours.mp4'), ['red', 'lime', 'blue'], { framesEach: 5 });
  });

  it('returns the first, middle and last frames as 224×224 RGB', async () => {
    const frames = await sampleFrames(file('colours.mp4'));
    expect(frames.map(({ position, index, width, height }) => ({ position, index, width, height }))).toEqual([
      { position: 'first', index: 0, width: 224, height: 224 },
      { position: 'middle', index: 7, width: 224, height: 224 },
      { position: 'last', index: 14, width: 224, height: 224 },
    ]);
    const dominant = frames.map(({ rgb }) => {
      expect(rgb.length).toBe(224 * 224 * 3);
      const colour = meanColour(rgb);
      return colour.indexOf(Math.max(...colour));
    });
    expect(dominant).toEqual([0, 1, 2]);
    for (const { rgb } of frames) expect(Math.max(...meanColour(rgb))).toBeGreaterThan(200);
  });

  it('takes a count of evenly spaced frames, or positions, at another size', async () => {
    const five = await sampleFrames(file('colours.mp4'), 5, { size: 32 });
    expect(five.map((frame) => frame.index)).toEqual([0, 4, 7, 11, 14]);
    expect(five[0]!.rgb.length).toBe(32 * 32 * 3);
    const some = await sampleFrames(file('colours.mp4'), ['last', 0.5, 'last']);
    expect(some.map((frame) => frame.index)).toEqual([14, 7, 14]);
    expect(some[0]!.rgb.equals(some[2]!.rgb)).toBe(true);
  });

  it('works on a one-frame video', async () => {
    await makeColourMp4(file('one.mp4'), ['red'], { framesEach: 1 });
    const frames = await sampleFrames(file('one.mp4'));
    expect(frames.map((frame) => frame.index)).toEqual([0, 0, 0]);
  });
});

describe('posterFrame', () => {
  it('shrinks to maxWidth, keeping the aspect ratio', async () => {
    await makeMp4(file('wide.mp4'), { width: 1280, height: 720, seconds: 0.5 });
    await posterFrame(file('wide.mp4'), file('wide.jpg'), { maxWidth: 640 });
    expect(await sharp(file('wide.jpg')).metadata()).toMatchObject({
      format: 'jpeg',
      width: 640,
      height: 360,
    });
  });
});

describe('prepareForDelivery', () => {
  it('makes the video chat-playable, and on request a small poster and the full-size last frame next to it', async () => {
    await makeMp4(file('raw.mp4'), { width: 832, height: 480, fps: 16, seconds: 1, codec: 'mpeg4' });
    const prepared = await prepareForDelivery(file('raw.mp4'), file('ready.mp4'));
    expect(prepared).toMatchObject({
      codec: 'h264',
      pixFmt: 'yuv420p',
      fastStart: true,
      width: 832,
      height: 480,
    });
    expect(prepared.frameRate).toBe(16);
    expect(await probeVideo(file('ready.mp4'))).toMatchObject({ codec: 'h264', fastStart: true });
    // The stills wait for the worker to ask (after the video is posted).
    expect(existsSync(file('poster.jpg')) || existsSync(file('last-frame.png'))).toBe(false);
    const stills = await prepared.makeStills();
    expect(stills.poster.startsWith(dir)).toBe(true);
    expect(await sharp(stills.poster).metadata()).toMatchObject({ format: 'jpeg', width: 640 });
    expect(await sharp(stills.lastFrame).metadata()).toMatchObject({
      format: 'png',
      width: 832,
      height: 480,
    });
    const frames = await countFrames(file('ready.mp4'));
    const reference = await decodeFrame(file('ready.mp4'), frames - 1, dir);
    expect(meanDifference(await rgbOf(stills.lastFrame), reference)).toBeLessThan(0.5);
  });
});
