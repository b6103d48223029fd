import { describe, expect, it } from 'vitest';
import { compareAppSchema } from '../../../src/backends/inference-sh/app-schema.js';
import {
  appPath,
  appRefFor,
  describeIgnored,
  INFERENCE_APPS,
  modelForApp,
} from '../../../src/backends/inference-sh/apps.js';
import { isAllowedOutputHost } from '../../../src/backends/inference-sh/download.js';
import { MODEL_PROFILES } from '../../../src/core/models.js';
import { type GenerationRequest, MODEL_IDS } from '../../../src/core/request.js';

/** The inference.sh wire format on its own: which app runs a model, and what its schema must offer. */

describe('apps', () => {
  it('finds the model of an app reference, pinned or not, and none for a foreign app', () => {
    expect(modelForApp('infsh/wan2-2-i2v-5b')?.id).toBe('wan2.2-5b');
    expect(modelForApp('infsh/lightning-wan-2-2-i2v-a14b@v_7')?.id).toBe('wan2.2-lightning');
    expect(modelForApp('someone/wan-fork')).toBeUndefined();
    for (const id of MODEL_IDS) expect(modelForApp(INFERENCE_APPS[id].app)?.id).toBe(id);
  });

  it('runs a model on the configured app (keeping its pinned version) only when it is that app', () => {
    const a14b = MODEL_PROFILES['wan2.2-a14b'];
    expect(appRefFor(a14b, 'infsh/wan2-2-i2v-a14b@v_1')).toBe('infsh/wan2-2-i2v-a14b@v_1');
    expect(appRefFor(a14b, 'infsh/wan2-1-i2v@v_9')).toBe('infsh/wan2-2-i2v-a14b');
  });

  it('addresses an app record without its version, each part encoded', () => {
    expect(appPath('infsh/wan2-1-i2v@v_3')).toBe('/apps/infsh/wan2-1-i2v');
    expect(appPath('a b/c?d')).toBe('/apps/a%20b/c%3Fd');
  });

  it('notes what a model drops and what it takes without effect', () => {
    const request: GenerationRequest = {
      prompt: 'p',
      model: 'wan2.2-lightning',
      seed: 1,
      guidance_scale: 3,
      negative_prompt: 'blur',
      input_image: { key: 'k', contentType: 'image/png', bytes: 1, width: 1, height: 1, filename: 'a.png' },
    };
    expect(describeIgnored(request)).toEqual([
      'guidance_scale is not used by Wan 2.2 Lightning A14B and was ignored',
      'negative_prompt is accepted by Wan 2.2 Lightning A14B but has no effect there',
    ]);
  });
});

describe('compareAppSchema', () => {
  const profile = MODEL_PROFILES['wan2.2-lightning'];
  const lightningSchema = (resolution: unknown) => ({
    input_schema: {
      required: ['prompt', 'image'],
      properties: {
        prompt: {},
        negative_prompt: {},
        image: {},
        end_image: {},
        resolution,
        num_frames: {},
        fps: {},
        num_inference_steps: {},
        seed: {},
        boundary_ratio: {},
      },
    },
  });

  it('finds choices listed inside oneOf/anyOf branches, on the app object itself', () => {
    expect(compareAppSchema(profile, lightningSchema({ anyOf: [{ enum: ['480p', '720p'] }] }))).toEqual([]);
    expect(
      compareAppSchema(profile, lightningSchema({ oneOf: [{ type: 'null' }, { enum: ['480p'] }] })),
    ).toEqual(['app infsh/lightning-wan-2-2-i2v-a14b does not accept resolution="720p" (allowed: "480p")']);
  });

  it('names a field the adapter maps a setting to when the app has none, once', () => {
    const schema = lightningSchema({});
    delete (schema.input_schema.properties as Record<string, unknown>).boundary_ratio;
    expect(compareAppSchema(profile, schema)).toEqual([
      'app infsh/lightning-wan-2-2-i2v-a14b has no input field "boundary_ratio" (the Wan 2.2 Lightning A14B adapter maps boundary_ratio to it)',
    ]);
  });

  it('names every optional field the schema leaves out in one line for the app, not one per field', () => {
    const schema = lightningSchema({});
    const properties = schema.input_schema.properties as Record<string, unknown>;
    for (const field of ['boundary_ratio', 'fps', 'resolution']) delete properties[field];
    expect(compareAppSchema(profile, schema)).toEqual([
      'app infsh/lightning-wan-2-2-i2v-a14b has no input fields "resolution", "fps", "boundary_ratio" (the Wan 2.2 Lightning A14B adapter maps size, fps, boundary_ratio to them)',
    ]);
  });

  it('says when there is no schema to compare, or it cannot be read', () => {
    const message =
      'app infsh/lightning-wan-2-2-i2v-a14b publishes no input schema; cannot check it against the Wan 2.2 Lightning A14B adapter';
    expect(compareAppSchema(profile, null)).toEqual([message]);
    expect(compareAppSchema(profile, { input_schema: '{not json' })).toEqual([message]);
  });
});

describe('isAllowedOutputHost', () => {
  const allowed = (url: string, outputHosts: string[] = []) =>
    isAllowedOutputHost(new URL(url), 'api.example.com:8443', outputHosts);

  it('trusts the API machine on any port and *.inference.sh over https only', () => {
    expect(allowed('http://api.example.com:9000/v.mp4')).toBe(true);
    expect(allowed('https://cdn.inference.sh/v.mp4')).toBe(true);
    expect(allowed('http://cdn.inference.sh/v.mp4')).toBe(false);
    expect(allowed('ftp://api.example.com/v.mp4')).toBe(false);
  });

  it('reads configured hosts as a name, a host:port, a *.domain or a URL', () => {
    const hosts = [
      'files.example.org',
      'store.example.net:9000',
      '*.cdn.example.io',
      'https://b.example.dev/x',
    ];
    expect(allowed('https://files.example.org:444/v.mp4', hosts)).toBe(true);
    expect(allowed('http://store.example.net:9000/v.mp4', hosts)).toBe(true);
    expect(allowed('http://store.example.net:9001/v.mp4', hosts)).toBe(false);
    expect(allowed('https://eu.cdn.example.io/v.mp4', hosts)).toBe(true);
    expect(allowed('https://cdn.example.io.evil.com/v.mp4', hosts)).toBe(false);
    expect(allowed('https://b.example.dev/v.mp4', hosts)).toBe(true);
    expect(allowed('https://other.example.com/v.mp4', hosts)).toBe(false);
  });
});
