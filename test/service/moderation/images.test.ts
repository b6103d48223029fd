import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config.js';
import { sampleFrames } from '../../../src/media/frames.js';
import { ImageModerator } from '../../../src/service/moderation/image-moderator.js';
import {
  allowsFlaggedContent,
  framesVerdict,
  type ImageVerdict,
  imageVerdict,
  isBlocked,
} from '../../../src/service/moderation/image-policy.js';
import { inputImageRefusal, withheldResultNotice } from '../../../src/service/moderation/messages.js';
import {
  type ClassifierInfo,
  type ImageClassifier,
  nsfwClassifier,
} from '../../../src/service/moderation/nsfw-classifier.js';
import { moderationSettings } from '../../../src/service/moderation/settings.js';
import { makeMp4, tempDir } from '../../support/media.js';
import { gradientPng, shapesPng } from '../../support/synthetic-images.js';

/** The thresholds a bot gets when nothing is set. */
const defaults = moderationSettings(parseConfig({ KINEMA_ROLE: 'bot' })).images;
const withThreshold = (explicit: number) =>
  new ImageModerator({ enabled: true, thresholds: { explicit, suggestive: 1 } });

let gradient: Buffer;
let shapes: Buffer;
let loaded: ClassifierInfo;

beforeAll(async () => {
  [gradient, shapes] = await Promise.all([gradientPng(), shapesPng()]);
  loaded = await nsfwClassifier.warm();
});

describe('image moderation with the real classifier', () => {
  it('runs on the WebAssembly backend (the pure-JavaScript one is 20 times slower)', () => {
    expect(loaded.backend).toBe('wasm');
  });

  it('loads once per process: warming again reuses the loaded model', async () => {
    await nsfwClassifier.classify(gradient);
    expect(await nsfwClassifier.warm()).toBe(loaded);
  });

  it('scores an image in every class, as probabilities', async () => {
    const scores = await nsfwClassifier.classify(gradient);
    expect(Object.keys(scores).sort()).toEqual(['drawing', 'hentai', 'neutral', 'porn', 'sexy']);
    const total = Object.values(scores).reduce((sum, score) => sum + score, 0);
    expect(total).toBeCloseTo(1, 3);
  });

  it('passes a plain image at the default threshold and flags the same image at threshold 0', async () => {
    const passed = await new ImageModerator(defaults).checkImage(gradient);
    expect(passed.status).toBe('ok');
    const flagged = await withThreshold(0).checkImage(gradient);
    expect(flagged).toMatchObject({ status: 'flagged', category: 'explicit' });
  });

  it('flags a set of frames when any one frame is flagged, and says which', async () => {
    const [a, b] = await Promise.all([nsfwClassifier.classify(gradient), nsfwClassifier.classify(shapes)]);
    const explicitA = a.porn + a.hentai;
    const explicitB = b.porn + b.hentai;
    expect(explicitA).not.toBeCloseTo(explicitB, 6);
    // A threshold between the two plain images flags exactly the one that scores higher.
    const [low, high] = explicitA < explicitB ? [gradient, shapes] : [shapes, gradient];
    const between = withThreshold((explicitA + explicitB) / 2);
    expect(await between.checkFrames([low, low, low])).toMatchObject({ status: 'ok' });
    expect(await between.checkFrames([low, low, high])).toMatchObject({ status: 'flagged', frame: 2 });
    expect(await between.checkFrames([high, low, low])).toMatchObject({ status: 'flagged', frame: 0 });
  });

  it('takes raw RGB frames as media samples them, feeding the same pixels the decoder would', async () => {
    const rgb = await sharp(gradient).resize(224, 224, { fit: 'fill' }).raw().toBuffer();
    expect(await nsfwClassifier.classify({ width: 224, height: 224, rgb })).toEqual(
      await nsfwClassifier.classify(gradient),
    );
    const wide = await sharp(gradient).resize(320, 180).raw().toBuffer();
    const frames = [
      { width: 320, height: 180, rgb: wide },
      { width: 224, height: 224, rgb },
    ];
    expect(await new ImageModerator(defaults).checkFrames(frames)).toMatchObject({ status: 'ok' });
    expect(await withThreshold(0).checkFrames(frames)).toMatchObject({ status: 'flagged', frame: 0 });
    await expect(nsfwClassifier.classify({ width: 224, height: 224, rgb: wide })).rejects.toThrow(/bytes/);
  });

  it("checks a result's first, middle and last frames as media samples them", async () => {
    const { dir, cleanup } = await tempDir('moderation');
    try {
      const video = join(dir, 'result.mp4');
      await makeMp4(video, { width: 320, height: 240, seconds: 1, fps: 16 });
      const frames = await sampleFrames(video);
      expect(frames).toHaveLength(3);
      expect(await new ImageModerator(defaults).checkFrames(frames)).toMatchObject({ status: 'ok' });
      expect(await withThreshold(0).checkFrames(frames)).toMatchObject({ status: 'flagged', frame: 0 });
    } finally {
      await cleanup();
    }
  });

  it('classifies concurrent requests (as several jobs finishing at once would)', async () => {
    const verdicts = await Promise.all(
      [gradient, shapes, gradient].map((image) => withThreshold(0.7).checkImage(image)),
    );
    expect(verdicts.map((verdict) => verdict.status)).toEqual(['ok', 'ok', 'ok']);
  });

  it('refuses an image it cannot read instead of passing it', async () => {
    await expect(nsfwClassifier.classify(Buffer.from('not an image'))).rejects.toThrow();
  });
});

describe('image moderation switches and policy', () => {
  const counting = (): ImageClassifier & { calls: number } => ({
    calls: 0,
    async warm() {
      return { backend: 'fake', loadMs: 0 };
    },
    async classify() {
      this.calls += 1;
      return { porn: 0.9, hentai: 0, sexy: 0, neutral: 0.1, drawing: 0 };
    },
  });

  it('checks nothing, and loads nothing, when MODERATION_IMAGES is off', async () => {
    const classifier = counting();
    const off = new ImageModerator({ ...defaults, enabled: false }, classifier);
    await off.warm();
    expect(await off.checkImage(gradient)).toEqual({ status: 'off' });
    expect(await off.checkFrames([gradient, gradient])).toEqual({ status: 'off' });
    expect(classifier.calls).toBe(0);
  });

  it('stops at the first flagged frame, and never passes a result with no frames', async () => {
    const classifier = counting();
    const on = new ImageModerator(defaults, classifier);
    expect(await on.checkFrames([gradient, gradient, gradient])).toMatchObject({
      status: 'flagged',
      frame: 0,
    });
    expect(classifier.calls).toBe(1);
    await expect(on.checkFrames([])).rejects.toThrow(/no frames/);
  });

  it('adds porn and hentai for explicit, checks sexy on its own, and treats 1 as off', () => {
    const thresholds = { explicit: 0.7, suggestive: 0.9 };
    const scores = { porn: 0.4, hentai: 0.35, sexy: 0, neutral: 0.25, drawing: 0 };
    expect(imageVerdict(scores, thresholds)).toMatchObject({ status: 'flagged', category: 'explicit' });
    expect(imageVerdict({ ...scores, porn: 0.3 }, thresholds)).toMatchObject({ status: 'ok' });
    const suggestive = { porn: 0, hentai: 0, sexy: 0.95, neutral: 0.05, drawing: 0 };
    expect(imageVerdict(suggestive, thresholds)).toMatchObject({ status: 'flagged', category: 'suggestive' });
    expect(imageVerdict(suggestive, { ...thresholds, suggestive: 1 })).toMatchObject({ status: 'ok' });
    const certain = { porn: 1, hentai: 0, sexy: 0, neutral: 0, drawing: 0 };
    expect(imageVerdict(certain, { explicit: 1, suggestive: 1 })).toMatchObject({ status: 'ok' });
  });

  it('reports the highest scores over frames when none is flagged', () => {
    const frames: ImageVerdict[] = [
      { status: 'ok', explicit: 0.1, suggestive: 0.3 },
      { status: 'ok', explicit: 0.2, suggestive: 0.1 },
    ];
    expect(framesVerdict(frames)).toEqual({ status: 'ok', explicit: 0.2, suggestive: 0.3 });
  });

  it('allows flagged content only in age-restricted channels, and only when the setting is on', () => {
    const flagged: ImageVerdict = { status: 'flagged', category: 'explicit', score: 0.9 };
    expect(allowsFlaggedContent({ ageRestricted: true }, true)).toBe(true);
    expect(allowsFlaggedContent({ ageRestricted: true }, false)).toBe(false);
    expect(allowsFlaggedContent({ ageRestricted: false }, true)).toBe(false);
    expect(isBlocked(flagged, { ageRestricted: true }, true)).toBe(false);
    expect(isBlocked(flagged, { ageRestricted: false }, true)).toBe(true);
    expect(isBlocked({ status: 'ok', explicit: 0, suggestive: 0 }, { ageRestricted: false }, false)).toBe(
      false,
    );
  });

  it('tells the requester what was found and, when it applies, where it is allowed', () => {
    const flagged = { status: 'flagged', category: 'explicit', score: 0.9 } as const;
    expect(inputImageRefusal(flagged)).toBe(
      'Your image looks like explicit content, which is not allowed here; nothing was queued.',
    );
    expect(
      withheldResultNotice({ ...flagged, category: 'suggestive' }, { allowedInAgeRestrictedChannels: true }),
    ).toBe(
      'Your video was made but not posted: part of it looks sexually suggestive, which is not allowed here. ' +
        'It is allowed in channels marked age-restricted.',
    );
  });
});
