import { describe, expect, it } from 'vitest';
import { defaultModel } from '../../../src/backends/index.js';
import { parseConfig } from '../../../src/config.js';
import { finaliseRequest, MODEL_IDS, parseSettings, type StoredImage } from '../../../src/core/request.js';
import { type Harness, harnessPerTest, makePng, runToVideo } from '../../support/inference-sh-harness.js';

/**
 * The request vocabulary is the seed's: setting names of the first app, `infsh/wan2-1-i2v`. It stays
 * the vocabulary on every model, the default Wan 2.2 A14B included: each app gets the fields it
 * lists under its own names (the fake refuses any other), and what it has no field for is dropped
 * with a note (wan-apps.md §6).
 */

const start = harnessPerTest();

/** Every setting, as a person types it (strings, as from a modal or the CLI), in the seed's names. */
const TYPED: Record<string, string> = {
  prompt: 'the cat turns its head',
  negative_prompt: 'blurry, static',
  size: '720x1280',
  num_frames: '49',
  fps: '24',
  guidance_scale: '4',
  num_inference_steps: '20',
  seed: '7',
  sample_solver: 'dpm++',
  shift: '3',
  tea_cache: '1.5',
  tea_cache_start_step_perc: '10',
  lora_file: 'https://example.com/style.safetensors',
  lora_multiplier: '0.5',
  vae_tile_size: '256',
  enable_RIFLEx: 'false',
  joint_pass: 'false',
  attention: 'sdpa',
  cfg_star_switch: 'false',
  cfg_zero_step: '3',
  add_frames_for_end_image: 'false',
  temporal_upsampling: 'rife2',
  spatial_upsampling: 'lanczos2',
  boundary_ratio: '0.9',
  cache_threshold: '0.1',
  video_output_quality: '7',
};

async function withEndFrame(h: Harness): Promise<StoredImage> {
  return h.inputs.save({
    bytes: await makePng('#c0392b'),
    contentType: 'image/png',
    width: 8,
    height: 6,
    filename: 'end.png',
  });
}

function typedRequest(h: Harness, end: StoredImage, extra: Record<string, string> = {}) {
  const parsed = parseSettings({ ...TYPED, ...extra });
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const fallback = defaultModel(parseConfig({ INFERENCE_API_KEY: 'inf_test_key_123' }));
  return finaliseRequest(parsed.value, { input_image: h.image, end_frame: end }, fallback);
}

describe('the seed’s setting names on every model', () => {
  it('reach the default model, wan2.2-a14b, as its own fields, the rest dropped with a note', async () => {
    const h = await start();
    const request = typedRequest(h, await withEndFrame(h));
    expect(request.model).toBe('wan2.2-a14b');
    const r = await runToVideo(h, request);
    expect(h.fake.runRequests()).toEqual([
      {
        app: 'infsh/wan2-2-i2v-a14b',
        input: {
          prompt: 'the cat turns its head',
          negative_prompt: 'blurry, static',
          image: expect.stringMatching(/\/cat\.png$/),
          end_image: expect.stringMatching(/\/end\.png$/),
          resolution: '720p',
          num_frames: 49,
          fps: 24,
          guidance_scale: 4,
          num_inference_steps: 20,
          seed: 7,
          boundary_ratio: 0.9,
        },
      },
    ]);
    const dropped = [
      'sample_solver',
      'shift',
      'tea_cache',
      'tea_cache_start_step_perc',
      'lora_file',
      'lora_multiplier',
      'vae_tile_size',
      'enable_RIFLEx',
      'joint_pass',
      'attention',
      'cfg_star_switch',
      'cfg_zero_step',
      'add_frames_for_end_image',
      'temporal_upsampling',
      'spatial_upsampling',
      'cache_threshold',
      'video_output_quality',
    ];
    expect(h.backend.describeIgnored(r.job.request)).toEqual(
      dropped.map((name) => `${name} is not used by Wan 2.2 I2V A14B and was ignored`),
    );
  });

  it.each(MODEL_IDS)(
    'reach %s: every setting is sent under a field the app lists, or noted',
    async (model) => {
      const h = await start({ fake: { retiredAppsRun: true } });
      const request = typedRequest(h, await withEndFrame(h), { model });
      const r = await runToVideo(h, request);
      const [run] = h.fake.runRequests();
      const notes = h.backend.describeIgnored(r.job.request);
      const ignored = notes.flatMap((note) => (note.endsWith('and was ignored') ? [note.split(' ')[0]] : []));
      const fieldOf = (name: string) => (name === 'size' && model !== 'wan2.1' ? 'resolution' : name);
      const sent = Object.keys(TYPED)
        .filter((name) => !ignored.includes(name))
        .map(fieldOf);
      const images = model === 'wan2.1' ? ['input_image', 'end_frame'] : ['image', 'end_image'];
      expect(Object.keys(run!.input).sort()).toEqual([...sent, ...images].sort());
      expect(r.bytes.equals(h.fake.video)).toBe(true);
    },
  );
});
