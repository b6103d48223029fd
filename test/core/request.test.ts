import { describe, expect, it } from 'vitest';
import { mapToApp } from '../../src/backends/inference-sh/apps.js';
import { effectiveShape, MODEL_PROFILES } from '../../src/core/models.js';
import {
  defaultSettings,
  finaliseRequest,
  MAX_SEED,
  parseKeyValues,
  parseSettings,
  renderedRequest,
  type StoredImage,
} from '../../src/core/request.js';

const image: StoredImage = {
  key: 'input-1',
  contentType: 'image/png',
  bytes: 10,
  width: 640,
  height: 480,
  filename: 'cat.png',
};

const errorsOf = (raw: Record<string, unknown>) => {
  const parsed = parseSettings(raw);
  if (parsed.ok) throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
  return parsed.errors.join('\n');
};

describe('the generation request schema', () => {
  it('accepts every default of the app whose names it uses (infsh/wan2-1-i2v)', () => {
    const defaults = defaultSettings();
    expect(defaults).toMatchObject({
      size: '832x480',
      num_frames: 81,
      fps: 16,
      guidance_scale: 5,
      num_inference_steps: 30,
      seed: -1,
      negative_prompt: '',
      sample_solver: 'unipc',
      shift: 5,
      tea_cache: 2,
      tea_cache_start_step_perc: 0,
      lora_multiplier: 1,
      vae_tile_size: 128,
      enable_RIFLEx: true,
      joint_pass: true,
      attention: 'sage',
      cfg_star_switch: true,
      cfg_zero_step: 5,
      add_frames_for_end_image: true,
      temporal_upsampling: '',
      spatial_upsampling: '',
    });
    const parsed = parseSettings({ prompt: 'a cat yawns', ...defaults });
    expect(parsed.ok).toBe(true);
  });

  it.each([
    [
      { num_frames: 80 },
      /num_frames must be a number of the form 4n\+1 .*got 80; the nearest allowed values are 77 and 81/,
    ],
    [{ size: '999x7' }, /size must be one of 832x480, 480x832, 1280x720, 720x1280 \(got "999x7"\)/],
    [
      { lora_file: 'http://example.com/a.safetensors' },
      /lora_file must be an https:\/\/ URL to a \.safetensors file/,
    ],
    [
      { lora_file: 'https://example.com/a.ckpt' },
      /lora_file must be an https:\/\/ URL to a \.safetensors file/,
    ],
    [{ fps: 0 }, /fps must be a whole number from 4 to 60 \(got 0\)/],
    [{ guidance_scale: 'lots' }, /guidance_scale must be a number from 0 to 20 \(got "lots"\)/],
    [{ num_inference_steps: 2.5 }, /num_inference_steps must be a whole number from 1 to 100/],
    [{ seed: MAX_SEED + 1 }, /seed must be a whole number from -1 to 2147483647/],
    [{ attention: 'flash' }, /attention must be one of sage, sdpa/],
    [{ temporal_upsampling: 'rife8' }, /temporal_upsampling must be one of "" \(off\), rife2, rife4/],
    [{ vae_tile_size: 64 }, /vae_tile_size must be one of 0, 128, 256 \(got 64\)/],
    [{ enable_RIFLEx: 'maybe' }, /enable_RIFLEx must be true or false/],
    [{ model: 'wan3' }, /model must be one of wan2\.1, wan2\.2-a14b, wan2\.2-5b, wan2\.2-lightning/],
    [{ tea_cache_start_step_perc: 101 }, /tea_cache_start_step_perc must be a whole number from 0 to 100/],
    [{ resolution: '1080p' }, /resolution must be one of 480p, 720p/],
    [{ colour: 'red' }, /unknown setting colour; known settings: resolution, seconds, prompt/],
  ])('rejects %j with a message naming the field and the allowed values', (bad, message) => {
    expect(errorsOf({ prompt: 'a cat', ...bad })).toMatch(message);
  });

  it('rejects an empty or too long prompt, saying how long it may be', () => {
    expect(errorsOf({ prompt: '   ' })).toMatch(/prompt must be 1 to 1500 characters/);
    expect(errorsOf({ prompt: 'x'.repeat(1501) })).toMatch(
      /prompt must be 1 to 1500 characters \(it has 1501\)/,
    );
  });

  it('reads CLI spellings, aliases and string values', () => {
    const parsed = parseSettings({
      prompt: 'p',
      'num-frames': '49',
      steps: '20',
      guidance: '4.5',
      resolution: '720p',
      enableRiflex: 'false',
      negative: 'blurry',
    });
    expect(parsed).toEqual({
      ok: true,
      value: {
        prompt: 'p',
        num_frames: 49,
        num_inference_steps: 20,
        guidance_scale: 4.5,
        size: '1280x720',
        enable_RIFLEx: false,
        negative_prompt: 'blurry',
      },
    });
  });

  it("turns seconds into a 4n+1 frame count at the chosen fps, or the model's own", () => {
    const parsed = parseSettings({ prompt: 'p', seconds: 3, fps: 16 });
    expect(parsed.ok && parsed.value.num_frames).toBe(49);
    const fiveB = parseSettings({ prompt: 'p', seconds: 5, model: 'wan2.2-5b' });
    expect(fiveB.ok && fiveB.value.num_frames).toBe(121);
  });

  it('parses key=value pairs with quotes, and says how to write a bad one', () => {
    expect(parseKeyValues('shift=3 negative_prompt="blurry, static" tea_cache=0')).toEqual({
      ok: true,
      value: { shift: '3', negative_prompt: 'blurry, static', tea_cache: '0' },
    });
    const bad = parseKeyValues('shift 3');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]).toMatch(/write settings as key=value/);
  });

  it('draws and records a concrete seed when -1 or none is given, and keeps a chosen one', () => {
    const random = finaliseRequest({ prompt: 'p', seed: -1 }, { input_image: image }, 'wan2.1', () => 0.5);
    expect(random.seed).toBe(Math.floor(0.5 * (MAX_SEED + 1)));
    const chosen = finaliseRequest({ prompt: 'p', seed: 42 }, { input_image: image }, 'wan2.1');
    expect(chosen.seed).toBe(42);
    expect(chosen.model).toBe('wan2.1');
  });
});

describe('model profiles', () => {
  const request = finaliseRequest(
    { prompt: 'p', size: '1280x720', num_frames: 49, guidance_scale: 4, fps: 24, tea_cache: 1.5 },
    { input_image: image },
    'wan2.1',
    () => 0,
  );

  it('maps onto wan2.1 field names and drops fps, which the app ignores, with a note', () => {
    const { input, ignored } = mapToApp(request, MODEL_PROFILES['wan2.1'], { image: 'https://x/i.png' });
    expect(input).toEqual({
      prompt: 'p',
      input_image: 'https://x/i.png',
      size: '1280x720',
      num_frames: 49,
      guidance_scale: 4,
      seed: 0,
      tea_cache: 1.5,
    });
    expect(ignored).toEqual(['fps']);
  });

  it('maps onto the Wan 2.2 apps with their own names and lists what each drops', () => {
    const a14b = mapToApp({ ...request, model: 'wan2.2-a14b' }, MODEL_PROFILES['wan2.2-a14b'], {
      image: 'u1',
      endImage: 'u2',
    });
    expect(a14b.input).toEqual({
      prompt: 'p',
      image: 'u1',
      end_image: 'u2',
      resolution: '720p',
      num_frames: 49,
      guidance_scale: 4,
      fps: 24,
      seed: 0,
    });
    expect(a14b.ignored).toEqual(['tea_cache']);
    const lightning = mapToApp(request, MODEL_PROFILES['wan2.2-lightning'], { image: 'u1' });
    expect(lightning.ignored).toEqual(['guidance_scale', 'tea_cache']);
    const inert = mapToApp(
      { ...request, attention: 'sdpa', negative_prompt: 'blur' },
      MODEL_PROFILES['wan2.1'],
      {
        image: 'u1',
      },
    );
    expect(inert.inert).toEqual(['attention']);
    expect(inert.input).toMatchObject({ attention: 'sdpa', negative_prompt: 'blur' });
    expect(
      mapToApp({ ...request, negative_prompt: 'blur' }, MODEL_PROFILES['wan2.2-lightning'], { image: 'u' })
        .inert,
    ).toEqual(['negative_prompt']);
    expect(lightning.input).not.toHaveProperty('guidance_scale');
  });

  it('knows each app default so the status shows what will really run', () => {
    const plain = finaliseRequest({ prompt: 'p' }, { input_image: image }, 'wan2.2-5b');
    expect(effectiveShape(plain, MODEL_PROFILES['wan2.2-5b'])).toEqual({
      numFrames: 121,
      fps: 24,
      steps: 50,
      size: '1280x720',
    });
  });
});

describe('loop', () => {
  it('is a switch, off by default, kept on the request only when on', () => {
    expect(parseSettings({ prompt: 'p', loop: 'yes' })).toEqual({
      ok: true,
      value: { prompt: 'p', loop: true },
    });
    expect(errorsOf({ prompt: 'p', loop: 'sometimes' })).toBe('loop must be true or false (got "sometimes")');
    expect(finaliseRequest({ prompt: 'p', loop: true }, { input_image: image }, 'wan2.1').loop).toBe(true);
    expect(
      finaliseRequest({ prompt: 'p', loop: false }, { input_image: image }, 'wan2.1'),
    ).not.toHaveProperty('loop');
  });

  it('reaches a backend as its start image for the end frame, and no app is sent a loop field', () => {
    const request = finaliseRequest({ prompt: 'p', loop: true }, { input_image: image }, 'wan2.2-a14b');
    const rendered = renderedRequest(request);
    expect(rendered.end_frame).toEqual(image);
    expect(request).not.toHaveProperty('end_frame');
    const app = mapToApp(rendered, MODEL_PROFILES['wan2.2-a14b'], { image: 'u', endImage: 'u' });
    expect(app.input).toMatchObject({ image: 'u', end_image: 'u' });
    expect(app.input).not.toHaveProperty('loop');
    expect(app.ignored).toEqual([]);
    const plain = finaliseRequest({ prompt: 'p' }, { input_image: image }, 'wan2.1');
    expect(renderedRequest(plain)).toBe(plain);
  });
});
