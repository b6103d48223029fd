import { describe, expect, it } from 'vitest';
import { defaultModel } from '../src/backends/index.js';
import { ConfigError, parseConfig } from '../src/config.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = parseConfig({ INFERENCE_API_KEY: 'inf_test_key_123' });
    expect(config).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      KINEMA_PREFIX: 'kinema',
      KINEMA_ROLE: 'all',
      BACKEND: 'inference',
      INFERENCE_API_URL: 'https://api.inference.sh',
      INFERENCE_APP: 'infsh/wan2-2-i2v-a14b',
      HTTP_PORT: 3000,
      LOG_LEVEL: 'info',
    });
  });

  it('gives requests without a model the current Wan 2.2 A14B, or the model of INFERENCE_APP', () => {
    const key = { INFERENCE_API_KEY: 'inf_test_key_123' };
    expect(defaultModel(parseConfig(key))).toBe('wan2.2-a14b');
    expect(defaultModel(parseConfig({ ...key, INFERENCE_APP: 'infsh/wan2-1-i2v' }))).toBe('wan2.1');
    expect(defaultModel(parseConfig({ ...key, INFERENCE_APP: 'infsh/wan2-2-i2v-5b@v_3' }))).toBe('wan2.2-5b');
    expect(defaultModel(parseConfig({ ...key, INFERENCE_APP: 'someone/wan-fork' }))).toBe('wan2.2-a14b');
    expect(defaultModel(parseConfig({ BACKEND: 'comfyui', COMFYUI_URL: 'http://gpu:8188' }))).toBe('wan2.1');
  });

  it('names every offending variable in one message, without printing secret values', () => {
    const message = problemsOf({
      REDIS_URL: 'localhost:6379',
      KINEMA_ROLE: 'boss',
      WORKER_CONCURRENCY: 'many',
      BACKEND: 'gpu',
      DISCORD_TOKEN: 'super-secret-discord-token-value',
      HTTP_PORT: '70000',
    });
    expect(message).toMatch(/REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(message).toMatch(/KINEMA_ROLE must be bot, worker or all/);
    expect(message).toMatch(/WORKER_CONCURRENCY must be a whole number from 1 to 64/);
    expect(message).toMatch(/BACKEND must be inference or comfyui/);
    expect(message).toMatch(/HTTP_PORT must be a whole number from 0 to 65535/);
    expect(message).not.toContain('super-secret-discord-token-value');
    const missingId = problemsOf({ KINEMA_ROLE: 'bot', DISCORD_TOKEN: 'super-secret-discord-token-value' });
    expect(missingId).toMatch(/DISCORD_APPLICATION_ID is required when DISCORD_TOKEN is set/);
    expect(missingId).not.toContain('super-secret-discord-token-value');
  });

  it('names the cross-setting problems alongside the type errors', () => {
    const message = problemsOf({ BACKEND: 'comfyui', LOG_LEVEL: 'loud' });
    expect(message).toMatch(/LOG_LEVEL must be one of fatal/);
    expect(message).toMatch(/COMFYUI_URL is required when BACKEND=comfyui/);

    const many = problemsOf({
      HTTP_PORT: 'eighty',
      WORKER_CONCURRENCY: '0',
      DISCORD_TOKEN: 'super-secret-discord-token-value',
      SLACK_BOT_TOKEN: 'xoxb-super-secret-slack-token',
      INFERENCE_APP: 'not an app',
    });
    for (const expected of [
      /HTTP_PORT must be a whole number/,
      /WORKER_CONCURRENCY must be a whole number from 1 to 64/,
      /INFERENCE_APP must be namespace\/name/,
      /INFERENCE_API_KEY is required when BACKEND=inference/,
      /DISCORD_APPLICATION_ID is required when DISCORD_TOKEN is set/,
      /SLACK_SIGNING_SECRET is required for the HTTP receiver/,
    ]) {
      expect(many).toMatch(expected);
    }
    expect(many).not.toContain('super-secret');
    const storage = problemsOf({
      KINEMA_ROLE: 'bot',
      STORAGE_URL: 'not-a-bucket',
      STORAGE_ACCESS_KEY_ID: 'AKIA-super-secret-id',
    });
    expect(storage).toMatch(/STORAGE_URL must be s3:\/\/bucket\/prefix/);
    expect(storage).toMatch(/STORAGE_SECRET_ACCESS_KEY is required with the other STORAGE_\*_KEY setting/);
    expect(storage).not.toContain('super-secret');
    expect(many.split('\n').filter((line) => line.startsWith('  - '))).toHaveLength(6);
  });

  it('leaves out a cross check whose own inputs are invalid, instead of guessing', () => {
    // With an unknown role nobody can say whether a backend is needed; the role itself is named.
    const message = problemsOf({ KINEMA_ROLE: 'boss', BACKEND: 'comfyui' });
    expect(message).toMatch(/KINEMA_ROLE must be bot, worker or all/);
    expect(message).not.toMatch(/COMFYUI_URL/);
    // An invalid application id is reported as invalid, not also as missing.
    const badId = problemsOf({ KINEMA_ROLE: 'bot', DISCORD_TOKEN: 't', DISCORD_APPLICATION_ID: 'abc' });
    expect(badId).toMatch(/DISCORD_APPLICATION_ID must be the numeric application id/);
    expect(badId).not.toMatch(/is required when DISCORD_TOKEN/);
  });

  it('names a bad ComfyUI URL without its credentials', () => {
    const message = problemsOf({
      BACKEND: 'comfyui',
      COMFYUI_URL: 'http://a:8188, admin:hunter2-secret@gpu-box:8188',
      LOG_LEVEL: 'loud',
    });
    expect(message).toMatch(/COMFYUI_URL has ".*@gpu-box:8188", which is not an http\(s\) URL/);
    expect(message).toMatch(/LOG_LEVEL must be one of/);
    expect(message).not.toContain('hunter2-secret');
  });

  it('asks for the key of the chosen backend only where a worker runs', () => {
    expect(problemsOf({})).toMatch(/INFERENCE_API_KEY is required when BACKEND=inference/);
    expect(problemsOf({ BACKEND: 'comfyui' })).toMatch(/COMFYUI_URL is required when BACKEND=comfyui/);
    expect(problemsOf({ BACKEND: 'comfyui', COMFYUI_URL: 'gpu-box:8188' })).toMatch(
      /COMFYUI_URL has "gpu-box:8188", which is not an http\(s\) URL/,
    );
    expect(() => parseConfig({ KINEMA_ROLE: 'bot' })).not.toThrow();
    expect(
      parseConfig({ BACKEND: 'comfyui', COMFYUI_URL: 'http://a:8188, http://b:8188' }).COMFYUI_URL,
    ).toEqual(['http://a:8188', 'http://b:8188']);
  });

  it('needs a signing secret for the Slack HTTP receiver but not for Socket Mode', () => {
    const base = { KINEMA_ROLE: 'bot', SLACK_BOT_TOKEN: 'xoxb-1' };
    expect(problemsOf(base)).toMatch(/SLACK_SIGNING_SECRET is required for the HTTP receiver/);
    expect(() => parseConfig({ ...base, SLACK_APP_TOKEN: 'xapp-1' })).not.toThrow();
  });
});
