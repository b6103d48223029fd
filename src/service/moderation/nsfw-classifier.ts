import sharp, { type Sharp } from 'sharp';
import { ClassifierThread } from './classifier-thread.js';
import { INPUT_SIZE } from './nsfw-model.js';
import type { NsfwScores } from './nsfw-scores.js';
import type { ClassifierInfo } from './thread-messages.js';

export type { NsfwScores } from './nsfw-scores.js';
export type { ClassifierInfo } from './thread-messages.js';

/**
 * The local NSFW classifier (nsfwjs's MobileNetV2 on TensorFlow.js's WebAssembly backend, see
 * nsfw-model.ts). It runs in one worker thread per process, started on `warm()` or on first use:
 * loading it blocks its thread for seconds and each inference for ~90 ms or more, which on the
 * main thread would hold up the acks of chat interactions. Here the main thread only decodes the
 * image (in sharp's thread pool) and passes 150 KB of pixels across.
 */
/**
 * Raw pixels, 3 bytes (R, G, B) each, row by row: what media's `sampleFrames` gives (224×224 by
 * default, which goes to the model as it is).
 */
export interface RgbFrame {
  width: number;
  height: number;
  rgb: Buffer;
}

/** An encoded image (PNG, JPEG, WebP, GIF's first frame, …) or raw RGB pixels. */
export type ClassifierInput = Buffer | RgbFrame;

export interface ImageClassifier {
  /** Starts the thread and loads the model if that has not happened yet; resolves once it can classify. */
  warm(): Promise<ClassifierInfo>;
  classify(image: ClassifierInput): Promise<NsfwScores>;
}

class NsfwClassifier implements ImageClassifier {
  private thread: ClassifierThread | undefined;

  warm(): Promise<ClassifierInfo> {
    return this.current().ready;
  }

  async classify(image: ClassifierInput): Promise<NsfwScores> {
    const thread = this.current();
    const pixels = await decode(image);
    return thread.classify(pixels);
  }

  private current(): ClassifierThread {
    const thread =
      this.thread ??
      new ClassifierThread(() => {
        if (this.thread === thread) this.thread = undefined; // the next image starts a fresh thread
      });
    this.thread = thread;
    return thread;
  }
}

/** The one classifier of this process. */
export const nsfwClassifier: ImageClassifier = new NsfwClassifier();

/**
 * To the model's square input, stretched as nsfwjs itself does; an encoded image EXIF-oriented and
 * its transparency put on white. A 224×224 frame goes as it is.
 */
async function decode(image: ClassifierInput): Promise<Uint8Array> {
  let pipeline: Sharp;
  if (Buffer.isBuffer(image)) {
    pipeline = sharp(image, { animated: false })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb');
  } else {
    const { width, height, rgb } = image;
    if (rgb.length !== width * height * 3) {
      throw new Error(`a ${width}×${height} RGB frame has ${width * height * 3} bytes, not ${rgb.length}`);
    }
    if (width === INPUT_SIZE && height === INPUT_SIZE) return new Uint8Array(rgb);
    pipeline = sharp(rgb, { raw: { width, height, channels: 3 } });
  }
  const data = await pipeline.resize(INPUT_SIZE, INPUT_SIZE, { fit: 'fill' }).raw().toBuffer();
  // Copies with their own ArrayBuffer, which is moved to the thread.
  return new Uint8Array(data);
}
