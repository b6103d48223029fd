import sharp from 'sharp';
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
export interface ImageClassifier {
  /** Starts the thread and loads the model if that has not happened yet; resolves once it can classify. */
  warm(): Promise<ClassifierInfo>;
  classify(image: Buffer): Promise<NsfwScores>;
}

class NsfwClassifier implements ImageClassifier {
  private thread: ClassifierThread | undefined;

  warm(): Promise<ClassifierInfo> {
    return this.current().ready;
  }

  /** Any image sharp reads (PNG, JPEG, WebP, GIF's first frame, …), scored by class. */
  async classify(image: Buffer): Promise<NsfwScores> {
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

/** EXIF-oriented, transparency on white, stretched to the model's square input as nsfwjs itself does. */
async function decode(image: Buffer): Promise<Uint8Array> {
  const data = await sharp(image, { animated: false })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(INPUT_SIZE, INPUT_SIZE, { fit: 'fill' })
    .raw()
    .toBuffer();
  return new Uint8Array(data); // a copy with its own ArrayBuffer, which is moved to the thread
}
