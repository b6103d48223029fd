import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/core/errors.js';
import { describeImageKind, formatBytes, validateImage } from '../../src/media/image.js';
import {
  HTML_LOGIN_PAGE,
  makeAvif,
  makeGif,
  makeJpeg,
  makePng,
  makeTiff,
  makeWebp,
  PDF_BYTES,
} from '../support/media.js';

const MAX_BYTES = 25 * 1024 * 1024;

async function rejection(promise: Promise<unknown>): Promise<UserFacingError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UserFacingError);
  return error as UserFacingError;
}

describe('describeImageKind', () => {
  it('recognises image formats by their bytes', async () => {
    expect(describeImageKind(await makePng(8, 8)).kind).toBe('png');
    expect(describeImageKind(await makeJpeg(8, 8)).kind).toBe('jpeg');
    expect(describeImageKind(await makeWebp(8, 8)).kind).toBe('webp');
    expect(describeImageKind(await makeGif(8, 8)).kind).toBe('gif');
    expect(describeImageKind(await makeAvif(16, 16)).kind).toBe('avif');
    expect(describeImageKind(await makeTiff(8, 8)).kind).toBe('tiff');
    for (const bytes of [await makePng(8, 8), await makeGif(8, 8)]) {
      expect(describeImageKind(bytes).isImage).toBe(true);
    }
  });

  it('recognises the usual non-images', () => {
    expect(describeImageKind(PDF_BYTES)).toMatchObject({ kind: 'pdf', isImage: false });
    expect(describeImageKind(HTML_LOGIN_PAGE)).toMatchObject({ kind: 'html', isImage: false });
    expect(describeImageKind(Buffer.from('hello\nworld\n')).kind).toBe('text');
    expect(describeImageKind(Buffer.from('{"ok":false,"error":"not_authed"}')).kind).toBe('json');
    expect(describeImageKind(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>')).kind).toBe('svg');
    expect(describeImageKind(Buffer.alloc(0)).kind).toBe('empty');
    const mp4 = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypisom\0\0\x02\0isomiso2', 'latin1'),
    ]);
    expect(describeImageKind(mp4).kind).toBe('video');
    const heic = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'),
    ]);
    expect(describeImageKind(heic)).toMatchObject({ kind: 'heic', isImage: true });
    expect(describeImageKind(Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 1, 2, 3])).kind).toBe('video');
    expect(describeImageKind(Buffer.from('PK\x03\x04rest', 'latin1')).kind).toBe('archive');
  });
});

describe('validateImage', () => {
  it('accepts a PNG with its dimensions and type', async () => {
    const image = await validateImage(await makePng(640, 480), { maxBytes: MAX_BYTES, filename: 'cat.png' });
    expect(image).toMatchObject({ contentType: 'image/png', width: 640, height: 480, filename: 'cat.png' });
    expect(describeImageKind(image.bytes).kind).toBe('png');
  });

  it('accepts a JPEG and a WebP, keeping their types', async () => {
    const jpeg = await validateImage(await makeJpeg(300, 200), {
      maxBytes: MAX_BYTES,
      filename: 'photo.JPEG',
    });
    expect(jpeg).toMatchObject({ contentType: 'image/jpeg', width: 300, height: 200, filename: 'photo.jpg' });
    expect(describeImageKind(jpeg.bytes).kind).toBe('jpeg');

    const webp = await validateImage(await makeWebp(200, 300), { maxBytes: MAX_BYTES });
    expect(webp).toMatchObject({
      contentType: 'image/webp',
      width: 200,
      height: 300,
      filename: 'image.webp',
    });
    expect(describeImageKind(webp.bytes).kind).toBe('webp');
  });

  it('ignores a misleading file name: the bytes decide', async () => {
    const image = await validateImage(await makeJpeg(100, 100), { maxBytes: MAX_BYTES, filename: 'x.png' });
    expect(image).toMatchObject({ contentType: 'image/jpeg', filename: 'x.jpg' });
  });

  it('keeps only a safe file stem', async () => {
    const image = await validateImage(await makePng(64, 64), {
      maxBytes: MAX_BYTES,
      filename: '../../etc/pass<wd>.gif',
    });
    expect(image.filename).toBe('pass_wd_.png');
  });

  it('converts a GIF, animated or not, to a PNG of its first frame', async () => {
    const still = await validateImage(await makeGif(120, 90), { maxBytes: MAX_BYTES, filename: 'anim.gif' });
    expect(still).toMatchObject({ contentType: 'image/png', width: 120, height: 90, filename: 'anim.png' });
    expect(describeImageKind(still.bytes).kind).toBe('png');

    const gif = await makeGif(100, 80, 3);
    expect((await sharp(gif).metadata()).pages).toBe(3);
    const animated = await validateImage(gif, { maxBytes: MAX_BYTES });
    expect(animated).toMatchObject({ contentType: 'image/png', width: 100, height: 80 });
    const meta = await sharp(animated.bytes).metadata();
    expect(meta.pages ?? 1).toBe(1);
    expect(meta.height).toBe(80);
  });

  it('converts an animated WebP to a PNG of its first frame', async () => {
    const frames = Buffer.concat([
      await sharp({ create: { width: 90, height: 70, channels: 3, background: 'red' } })
        .raw()
        .toBuffer(),
      await sharp({ create: { width: 90, height: 70, channels: 3, background: 'blue' } })
        .raw()
        .toBuffer(),
    ]);
    const webp = await sharp(frames, { raw: { width: 90, height: 140, channels: 3, pageHeight: 70 } })
      .webp({ loop: 0, delay: [100, 100] })
      .toBuffer();
    expect((await sharp(webp).metadata()).pages).toBe(2);
    const image = await validateImage(webp, { maxBytes: MAX_BYTES, filename: 'loop.webp' });
    expect(image).toMatchObject({ contentType: 'image/png', width: 90, height: 70, filename: 'loop.png' });
    const { data } = await sharp(image.bytes).raw().toBuffer({ resolveWithObject: true });
    // The first frame is red (lossy WebP may shift a channel by a few levels).
    expect(data[0]).toBeGreaterThan(200);
    expect(data[2]).toBeLessThan(50);
  });

  it('converts AVIF and TIFF to PNG', async () => {
    const avif = await validateImage(await makeAvif(128, 96), { maxBytes: MAX_BYTES });
    expect(avif).toMatchObject({ contentType: 'image/png', width: 128, height: 96 });
    const tiff = await validateImage(await makeTiff(96, 128), { maxBytes: MAX_BYTES });
    expect(tiff).toMatchObject({ contentType: 'image/png', width: 96, height: 128 });
  });

  it('applies the EXIF orientation and strips metadata', async () => {
    // Stored 400x200 with "rotate 90° CW" (6): displayed 200x400.
    const input = await makeJpeg(400, 200, { orientation: 6 });
    expect((await sharp(input).metadata()).orientation).toBe(6);
    const image = await validateImage(input, { maxBytes: MAX_BYTES });
    expect(image).toMatchObject({ width: 200, height: 400 });
    const meta = await sharp(image.bytes).metadata();
    expect(meta.width).toBe(200);
    expect(meta.height).toBe(400);
    expect(meta.orientation).toBeUndefined();
    expect(meta.exif).toBeUndefined();
  });

  it('scales the long side down to the output limit, keeping the aspect ratio', async () => {
    const image = await validateImage(await makePng(3000, 1500), { maxBytes: MAX_BYTES });
    expect(image).toMatchObject({ width: 2048, height: 1024 });
    const small = await validateImage(await makePng(1000, 500), { maxBytes: MAX_BYTES, maxOutputSide: 500 });
    expect(small).toMatchObject({ width: 500, height: 250 });
  });

  it('rejects a PDF, an HTML page, a text file and random bytes with plain messages', async () => {
    expect((await rejection(validateImage(PDF_BYTES, { maxBytes: MAX_BYTES }))).message).toBe(
      'that file is not an image (it looks like a PDF document)',
    );
    const html = await rejection(validateImage(HTML_LOGIN_PAGE, { maxBytes: MAX_BYTES }));
    expect(html.message).toMatch(/^that file is not an image \(it looks like an HTML page/);
    expect(html.message).toMatch(/Slack/);
    expect(
      (await rejection(validateImage(Buffer.from('just some notes\n'), { maxBytes: MAX_BYTES }))).message,
    ).toBe('that file is not an image (it looks like a text file)');
    const random = randomBytes(4096);
    random[0] = 0x00; // never a valid signature by chance
    random[1] = 0x13;
    expect((await rejection(validateImage(random, { maxBytes: MAX_BYTES }))).message).toMatch(
      /^that file is not an image/,
    );
  });

  it('rejects a video with the right words', async () => {
    const mp4 = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypisom\0\0\x02\0isomiso2', 'latin1'),
    ]);
    expect((await rejection(validateImage(mp4, { maxBytes: MAX_BYTES }))).message).toBe(
      'that file is not an image (it looks like a video)',
    );
  });

  it('rejects an empty file', async () => {
    expect((await rejection(validateImage(Buffer.alloc(0), { maxBytes: MAX_BYTES }))).message).toBe(
      'that file is empty',
    );
  });

  it('rejects a file over the byte limit before decoding', async () => {
    const png = await makePng(200, 200);
    const error = await rejection(validateImage(png, { maxBytes: 100 }));
    expect(error.message).toMatch(/^the image is too large \(/);
  });

  it('rejects too many pixels and too long a side', async () => {
    const pixels = await rejection(
      validateImage(await makePng(1000, 1000), { maxBytes: MAX_BYTES, maxPixels: 500_000 }),
    );
    expect(pixels.message).toMatch(/^the image is too large \(1000x1000/);
    const side = await rejection(
      validateImage(await makePng(2000, 100), { maxBytes: MAX_BYTES, maxSide: 1024 }),
    );
    expect(side.message).toMatch(/^the image is too large \(2000x100/);
  });

  it('rejects a tiny image', async () => {
    const error = await rejection(validateImage(await makePng(32, 200), { maxBytes: MAX_BYTES }));
    expect(error.message).toBe('the image is too small (32x200; min 64x64)');
  });

  it('rejects a damaged image', async () => {
    const png = await makePng(300, 300);
    const broken = Buffer.concat([png.subarray(0, 40), randomBytes(200)]);
    const error = await rejection(validateImage(broken, { maxBytes: MAX_BYTES }));
    expect(error.message).toMatch(/^the image could not be decoded/);
  });

  it('rejects a truncated JPEG', async () => {
    const jpeg = await sharp({
      create: {
        width: 400,
        height: 400,
        channels: 3,
        background: 'gray',
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    })
      .jpeg()
      .toBuffer();
    const error = await rejection(
      validateImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)), { maxBytes: MAX_BYTES }),
    );
    expect(error.message).toMatch(/^the image could not be decoded/);
  });

  it('explains a HEIC it cannot decode', async () => {
    const heic = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'),
    ]);
    const error = await rejection(validateImage(heic, { maxBytes: MAX_BYTES }));
    expect(error.message).toMatch(/HEIC/);
  });
});

describe('formatBytes', () => {
  it('prints MiB, KiB and bytes', () => {
    expect(formatBytes(25 * 1024 * 1024)).toBe('25 MiB');
    expect(formatBytes(1.5 * 1024 * 1024)).toBe('1.5 MiB');
    expect(formatBytes(600 * 1024)).toBe('600 KiB');
    expect(formatBytes(900)).toBe('900 bytes');
  });
});
