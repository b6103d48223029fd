import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegPath, ffprobePath } from '../../src/media/binaries.js';
import {
  checkFfmpeg,
  FfmpegMissingError,
  fitToSize,
  hasFastStart,
  InvalidVideoError,
  normaliseForChat,
  posterFrame,
  probeVideo,
} from '../../src/media/video.js';
import { makeMp4, runFfmpeg, tempDir } from '../support/media.js';

let dir: string;
let cleanup: () => Promise<void>;
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('video'));
});

afterAll(async () => {
  await cleanup();
});

describe('probeVideo', () => {
  it('reports codec, pixel format, size, duration and moov position', async () => {
    await makeMp4(file('plain.mp4'), { seconds: 1 });
    const probe = await probeVideo(file('plain.mp4'));
    expect(probe).toMatchObject({
      codec: 'h264',
      pixFmt: 'yuv420p',
      width: 320,
      height: 240,
      frameRate: 24,
      fastStart: false,
    });
    expect(probe.hasAudio).toBe(false);
    expect(probe.durationSeconds).toBeGreaterThan(0.9);
    expect(probe.durationSeconds).toBeLessThan(1.1);
    expect(probe.bytes).toBe((await stat(file('plain.mp4'))).size);

    await makeMp4(file('fast.mp4'), { seconds: 1, faststart: true });
    expect(await hasFastStart(file('fast.mp4'))).toBe(true);
  });

  it('sees an audio track', async () => {
    await makeMp4(file('audio.mp4'), { seconds: 1, audio: true });
    expect((await probeVideo(file('audio.mp4'))).hasAudio).toBe(true);
  });

  it('refuses a file that is not a video', async () => {
    await writeFile(file('notes.mp4'), 'these are not frames\n');
    await expect(probeVideo(file('notes.mp4'))).rejects.toBeInstanceOf(InvalidVideoError);
    await writeFile(
      file('still.png'),
      await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
        .png()
        .toBuffer(),
    );
    // ffprobe reads a PNG as a one-frame stream; it is still not a video.
    await expect(probeVideo(file('still.png'))).rejects.toThrow(/still image/);
  });
});

describe('normaliseForChat', () => {
  it('transcodes MPEG-4 part 2 to H.264 yuv420p with faststart', async () => {
    await makeMp4(file('mpeg4.mp4'), { codec: 'mpeg4' });
    expect((await probeVideo(file('mpeg4.mp4'))).codec).toBe('mpeg4');
    const out = await normaliseForChat(file('mpeg4.mp4'), file('mpeg4-out.mp4'));
    expect(out).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', width: 320, height: 240, fastStart: true });
    expect(await probeVideo(file('mpeg4-out.mp4'))).toEqual(out);
  });

  it('transcodes H.264 yuv444p to yuv420p and keeps audio as AAC', async () => {
    await makeMp4(file('h444.mp4'), { codec: 'h264', pixFmt: 'yuv444p', audio: true });
    expect((await probeVideo(file('h444.mp4'))).pixFmt).toBe('yuv444p');
    const out = await normaliseForChat(file('h444.mp4'), file('h444-out.mp4'));
    expect(out).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', fastStart: true, hasAudio: true });
  });

  it('transcodes HEVC, evening out odd dimensions', async () => {
    await makeMp4(file('hevc.mp4'), { codec: 'hevc', width: 161, height: 121, pixFmt: 'yuv444p' });
    const out = await normaliseForChat(file('hevc.mp4'), file('hevc-out.mp4'));
    expect(out).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', fastStart: true, width: 160, height: 120 });
  });

  it('only remuxes H.264 yuv420p without faststart', async () => {
    await makeMp4(file('slow.mp4'));
    const before = await probeVideo(file('slow.mp4'));
    expect(before).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', fastStart: false });
    const out = await normaliseForChat(file('slow.mp4'), file('slow-out.mp4'));
    expect(out).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', fastStart: true, width: 320, height: 240 });
    // Stream copy: the same coded frames, so the size barely changes (only atoms move).
    expect(Math.abs(out.bytes - before.bytes)).toBeLessThan(2048);
  });

  it('keeps a file that already plays inline (H.264 yuv420p, faststart) byte for byte', async () => {
    await makeMp4(file('ready.mp4'), { faststart: true, audio: true });
    const out = await normaliseForChat(file('ready.mp4'), file('ready-out.mp4'));
    expect(out).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', fastStart: true, hasAudio: true });
    expect((await readFile(file('ready-out.mp4'))).equals(await readFile(file('ready.mp4')))).toBe(true);
  });

  it('remuxes H.264 with PCM audio from a .mov, converting only the audio', async () => {
    await runFfmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=24:duration=1',
      '-f',
      'lavfi',
      '-i',
      'sine=duration=1',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'pcm_s16le',
      '-f',
      'mov',
      file('pcm.mov'),
    ]);
    const out = await normaliseForChat(file('pcm.mov'), file('pcm-out.mp4'));
    expect(out).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', fastStart: true, hasAudio: true });
  });

  it('throws a clear error for a file that is not a video, leaving no output', async () => {
    await writeFile(file('junk.bin'), Buffer.alloc(1000, 3));
    await expect(normaliseForChat(file('junk.bin'), file('junk-out.mp4'))).rejects.toBeInstanceOf(
      InvalidVideoError,
    );
    await expect(stat(file('junk-out.mp4'))).rejects.toThrow();
  });

  it('refuses to write over its input', async () => {
    await expect(normaliseForChat(file('slow.mp4'), file('slow.mp4'))).rejects.toThrow(/different files/);
  });
});

describe('fitToSize', () => {
  beforeAll(async () => {
    await makeMp4(file('big.mp4'), { seconds: 2, noise: true, bitrate: '7M' });
  });

  it('copies a file that already fits', async () => {
    const { bytes } = await probeVideo(file('big.mp4'));
    const out = await fitToSize(file('big.mp4'), file('big-copy.mp4'), bytes);
    expect(out?.bytes).toBe(bytes);
    expect((await readFile(file('big-copy.mp4'))).equals(await readFile(file('big.mp4')))).toBe(true);
  });

  it('re-encodes a ~2 MB clip under 600 KB', async () => {
    const source = await probeVideo(file('big.mp4'));
    expect(source.bytes).toBeGreaterThan(1.5 * 1024 * 1024);
    const limit = 600 * 1024;
    const out = await fitToSize(file('big.mp4'), file('big-fit.mp4'), limit);
    expect(out).toBeDefined();
    expect(out?.bytes).toBeLessThanOrEqual(limit);
    expect((await stat(file('big-fit.mp4'))).size).toBeLessThanOrEqual(limit);
    expect(out).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', fastStart: true });
  });

  it('still fits without headroom (a second, downscaled try corrects an overshoot)', async () => {
    const limit = 960 * 1024;
    const out = await fitToSize(file('big.mp4'), file('big-tight.mp4'), limit, { headroom: 1 });
    expect(out).toBeDefined();
    expect(out?.bytes).toBeLessThanOrEqual(limit);
  });

  it('returns undefined, with no output, for an impossible limit', async () => {
    const out = await fitToSize(file('big.mp4'), file('big-tiny.mp4'), 2 * 1024);
    expect(out).toBeUndefined();
    await expect(stat(file('big-tiny.mp4'))).rejects.toThrow();
  });
});

describe('posterFrame', () => {
  it('writes a JPEG of the first or the middle frame', async () => {
    await makeMp4(file('poster.mp4'), { seconds: 1 });
    await posterFrame(file('poster.mp4'), file('poster.jpg'));
    const jpeg = await readFile(file('poster.jpg'));
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(await sharp(jpeg).metadata()).toMatchObject({ format: 'jpeg', width: 320, height: 240 });

    await posterFrame(file('poster.mp4'), file('poster-mid.jpg'), { at: 'middle' });
    const middle = await readFile(file('poster-mid.jpg'));
    expect([...middle.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
  });
});

describe('FfmpegMissingError', () => {
  it('tells the operator how to get ffmpeg back or use a system build', async () => {
    const previous = process.env.FFPROBE_PATH;
    process.env.FFPROBE_PATH = join(dir, 'no-such-ffprobe');
    try {
      await makeMp4(file('missing.mp4'));
      const error = await probeVideo(file('missing.mp4')).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(FfmpegMissingError);
      expect((error as Error).message).toMatch(/npm ci/);
      expect((error as Error).message).toMatch(/FFMPEG_PATH and FFPROBE_PATH/);
    } finally {
      if (previous === undefined) delete process.env.FFPROBE_PATH;
      else process.env.FFPROBE_PATH = previous;
    }
  });
});

describe('bundled binaries', () => {
  it('run without any system ffmpeg: the npm packages ship them unless FFMPEG_PATH/FFPROBE_PATH say otherwise', async () => {
    const saved = { ffmpeg: process.env.FFMPEG_PATH, ffprobe: process.env.FFPROBE_PATH };
    delete process.env.FFMPEG_PATH;
    delete process.env.FFPROBE_PATH;
    try {
      expect(ffmpegPath()).toContain('node_modules/@ffmpeg-installer/');
      expect(ffprobePath()).toContain('node_modules/@ffprobe-installer/');
      await expect(checkFfmpeg()).resolves.toBeUndefined();
    } finally {
      if (saved.ffmpeg !== undefined) process.env.FFMPEG_PATH = saved.ffmpeg;
      if (saved.ffprobe !== undefined) process.env.FFPROBE_PATH = saved.ffprobe;
    }
  });
});
