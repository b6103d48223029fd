import { describe, expect, it } from 'vitest';
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
      INFERENCE_APP: 'infsh/wan2-1-i2v',
      HTTP_PORT: 3000,
      LOG_LEVEL: 'info',
    });
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
