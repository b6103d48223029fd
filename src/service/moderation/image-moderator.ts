import { framesVerdict, type ImageThresholds, type ImageVerdict, imageVerdict } from './image-policy.js';
import {
  type ClassifierInfo,
  type ClassifierInput,
  type ImageClassifier,
  nsfwClassifier,
} from './nsfw-classifier.js';

export interface ImageModerationSettings {
  /** MODERATION_IMAGES. */
  enabled: boolean;
  thresholds: ImageThresholds;
}

/**
 * The input image before it is queued, and frames of the result before it is posted. Each check
 * takes about one inference per image (see nsfw-classifier.ts for what that does to the event loop).
 */
export class ImageModerator {
  constructor(
    private readonly settings: ImageModerationSettings,
    private readonly classifier: ImageClassifier = nsfwClassifier,
  ) {}

  /**
   * Loads the classifier now (at start-up) instead of on the first image; undefined when image
   * moderation is off, since then nothing is loaded.
   */
  async warm(): Promise<ClassifierInfo | undefined> {
    return this.settings.enabled ? this.classifier.warm() : undefined;
  }

  async checkImage(image: ClassifierInput): Promise<ImageVerdict> {
    if (!this.settings.enabled) return { status: 'off' };
    return imageVerdict(await this.classifier.classify(image), this.settings.thresholds);
  }

  /**
   * Frames sampled from a result (first, middle, last; media's `sampleFrames` gives them as raw
   * 224×224 RGB, encoded images work too), one after another; stops at the first flagged frame.
   */
  async checkFrames(frames: readonly ClassifierInput[]): Promise<ImageVerdict> {
    if (!this.settings.enabled) return { status: 'off' };
    if (frames.length === 0) throw new Error('no frames to check: a result is never passed unchecked');
    const verdicts: ImageVerdict[] = [];
    for (const frame of frames) {
      const verdict = await this.checkImage(frame);
      verdicts.push(verdict);
      if (verdict.status === 'flagged') break;
    }
    return framesVerdict(verdicts);
  }
}
