import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import sharp from 'sharp';

/**
 * The local NSFW classifier: nsfwjs's MobileNetV2 (its weights ship inside the npm package and are
 * read from there, never fetched) on TensorFlow.js's WebAssembly backend. It loads once per
 * process, on `warm()` or on first use, and the libraries are imported only then, so a process with
 * image moderation off never pays for them.
 *
 * Event loop: decoding runs in sharp's thread pool; one inference is synchronous WebAssembly
 * (~90 ms on an idle core for a 224×224 image), and the loop gets a turn before each one, so an
 * incoming interaction waits at most one inference. The first load also blocks in short slices
 * (see bench/moderation.ts for the figures), so call `warm()` at start-up rather than on a request.
 */

export interface NsfwScores {
  porn: number;
  hentai: number;
  sexy: number;
  neutral: number;
  drawing: number;
}

export interface ImageClassifier {
  warm(): Promise<void>;
  classify(image: Buffer): Promise<NsfwScores>;
}

/** MobileNetV2's input size. */
const INPUT_SIZE = 224;

interface LoadedModel {
  classify(pixels: Uint8Array): Promise<NsfwScores>;
}

class NsfwClassifier implements ImageClassifier {
  private loading: Promise<LoadedModel> | undefined;

  async warm(): Promise<void> {
    await this.model();
  }

  /** Any image sharp reads (PNG, JPEG, WebP, GIF's first frame, …), scored by class. */
  async classify(image: Buffer): Promise<NsfwScores> {
    const [model, pixels] = await Promise.all([this.model(), decode(image)]);
    // Let pending I/O (an interaction waiting for its ack) run before the synchronous inference.
    await new Promise((resolve) => setImmediate(resolve));
    return model.classify(pixels);
  }

  private model(): Promise<LoadedModel> {
    this.loading ??= loadModel().catch((error: unknown) => {
      this.loading = undefined; // a later call tries again
      throw new Error(`the NSFW classifier could not load: ${(error as Error).message}`, { cause: error });
    });
    return this.loading;
  }
}

/** The one classifier of this process. */
export const nsfwClassifier: ImageClassifier = new NsfwClassifier();

/** EXIF-oriented, transparency on white, stretched to the model's square input as nsfwjs itself does. */
async function decode(image: Buffer): Promise<Uint8Array> {
  const { data } = await sharp(image, { animated: false })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(INPUT_SIZE, INPUT_SIZE, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

async function loadModel(): Promise<LoadedModel> {
  const tf = await import('@tensorflow/tfjs');
  const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
  // The .wasm files sit beside the package's entry point; without this it would look beside ours.
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  setWasmPaths(`${dirname(entry)}/`);
  if (!(await tf.setBackend('wasm'))) throw new Error('the TensorFlow.js WebAssembly backend did not start');
  await tf.ready();
  tf.enableProdMode();

  const { NSFWJS } = await import('nsfwjs/core');
  const { MobileNetV2Model } = await import('nsfwjs/models/mobilenet_v2');
  const modelJson = (await MobileNetV2Model.modelJson()).default;
  const weightLoader = MobileNetV2Model.weightBundles[0];
  if (!weightLoader || MobileNetV2Model.numOfWeightBundles !== 1) {
    throw new Error('nsfwjs no longer ships MobileNetV2 as one weight bundle');
  }
  const weights = Buffer.from((await weightLoader()).default, 'base64');
  const artifacts = {
    modelTopology: modelJson.modelTopology,
    weightSpecs: (modelJson.weightsManifest ?? []).flatMap((group) => group.weights),
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  };
  // Loading through nsfwjs's own load() by model name would also work, but it logs a banner.
  const nsfw = new NSFWJS(tf.io.fromMemory(artifacts), { size: INPUT_SIZE });
  await nsfw.load();
  // The first inference compiles kernels; pay for it here rather than on the first request.
  await classifyWith(tf, nsfw, new Uint8Array(INPUT_SIZE * INPUT_SIZE * 3));
  return { classify: (pixels) => classifyWith(tf, nsfw, pixels) };
}

type TensorFlow = typeof import('@tensorflow/tfjs');
type Nsfw = InstanceType<typeof import('nsfwjs/core').NSFWJS>;

const CLASS_KEYS: Record<string, keyof NsfwScores> = {
  Porn: 'porn',
  Hentai: 'hentai',
  Sexy: 'sexy',
  Neutral: 'neutral',
  Drawing: 'drawing',
};

async function classifyWith(tf: TensorFlow, nsfw: Nsfw, pixels: Uint8Array): Promise<NsfwScores> {
  const input = tf.tensor3d(pixels, [INPUT_SIZE, INPUT_SIZE, 3], 'int32');
  try {
    const predictions = await nsfw.classify(input, 5);
    const scores: NsfwScores = { porn: 0, hentai: 0, sexy: 0, neutral: 0, drawing: 0 };
    for (const { className, probability } of predictions) {
      const key = CLASS_KEYS[className];
      if (key) scores[key] = probability;
    }
    return scores;
  } finally {
    input.dispose();
  }
}
