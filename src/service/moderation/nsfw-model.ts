/**
 * nsfwjs's MobileNetV2 on TensorFlow.js's WebAssembly backend, loaded from the files inside the
 * npm packages (the weights ship in nsfwjs; nothing is fetched). Runs in the classifier thread
 * (nsfw-worker.ts): loading and each inference are long synchronous stretches.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { NsfwScores } from './nsfw-scores.js';

/** MobileNetV2's input size. */
export const INPUT_SIZE = 224;

export interface NsfwModel {
  /** TensorFlow.js's backend in use. */
  backend: string;
  /** `pixels`: INPUT_SIZE × INPUT_SIZE RGB, row by row. */
  classify(pixels: Uint8Array): Promise<NsfwScores>;
}

export async function loadNsfwModel(): Promise<NsfwModel> {
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
  // nsfwjs's own load() by model name would also work, but it logs a banner to the console.
  const nsfw = new NSFWJS(tf.io.fromMemory(artifacts), { size: INPUT_SIZE });
  await nsfw.load();
  const model: NsfwModel = { backend: tf.getBackend(), classify: (pixels) => classifyWith(tf, nsfw, pixels) };
  // The first inference compiles kernels; pay for it while loading rather than on the first request.
  await model.classify(new Uint8Array(INPUT_SIZE * INPUT_SIZE * 3));
  return model;
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
