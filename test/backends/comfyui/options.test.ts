import { describe, expect, it } from 'vitest';
import {
  COMFY_DEFAULTS,
  resolveModelFiles,
  resolveServers,
  resolveSettings,
} from '../../../src/backends/comfyui/options.js';
import { ConfigurationError } from '../../../src/core/errors.js';

describe('ComfyUI options', () => {
  it('fills every setting left out with its default and refuses a negative one', () => {
    expect(resolveSettings({ servers: [], historyPollMs: 40 })).toEqual({
      ...COMFY_DEFAULTS,
      historyPollMs: 40,
    });
    expect(() => resolveSettings({ servers: [], queuePollMs: -1 })).toThrow(
      new ConfigurationError('ComfyUI option queuePollMs must be >= 0'),
    );
    expect(() => resolveSettings({ servers: [], maxResubmits: Number.NaN })).toThrow(ConfigurationError);
  });

  it('keeps the default weights for every file not named', () => {
    const files = resolveModelFiles({ servers: [], models: { vae: 'my_vae.safetensors', unet: undefined } });
    expect(files).toMatchObject({ vae: 'my_vae.safetensors', unet: 'wan2.1_i2v_480p_14B_fp16.safetensors' });
  });

  it('moves URL credentials into a Basic header, and per-server headers win over shared ones', () => {
    const [withCredentials, withHeaders] = resolveServers({
      servers: [
        'http://kinema:p%40ss@gpu1:8188/',
        { url: 'https://gpu2/api/', headers: { 'x-token': 'own' } },
      ],
      headers: { 'x-token': 'shared' },
    });
    expect(withCredentials).toEqual({
      url: 'http://gpu1:8188/',
      headers: {
        'x-token': 'shared',
        authorization: `Basic ${Buffer.from('kinema:p@ss').toString('base64')}`,
      },
    });
    expect(withHeaders).toEqual({ url: 'https://gpu2/api/', headers: { 'x-token': 'own' } });
    expect(() => resolveServers({ servers: ['ftp://gpu3'] })).toThrow(/is not an http\(s\) URL/);
  });
});
