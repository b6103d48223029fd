import { describe, expect, it } from 'vitest';
import type { BackendProgress } from '../../../src/backends/backend.js';
import { compareAppSchema } from '../../../src/backends/inference-sh/app-schema.js';
import {
  InferenceApiError,
  parseErrorBody,
  parseSuccessBody,
  serverWaitMs,
} from '../../../src/backends/inference-sh/envelope.js';
import { classifyNetworkError } from '../../../src/backends/inference-sh/network-error.js';
import { ProgressEstimate } from '../../../src/backends/inference-sh/progress.js';
import { outputFile, StatusReader } from '../../../src/backends/inference-sh/task.js';
import { MODEL_PROFILES } from '../../../src/core/models.js';

describe('envelopes (§4)', () => {
  const task = { id: 't1', status: 1 };
  it.each([
    ['current', { data: task, messages: [{ level: 'info', message: 'hi' }] }],
    ['bare (v2)', task],
    ['v1', { success: true, status: 200, data: task }],
  ])('unwraps the %s success shape', (_name, body) => {
    expect(parseSuccessBody(200, JSON.stringify(body)).payload).toEqual(task);
  });

  it('keeps arrays as arrays, reads messages, and takes 204/empty as no payload', () => {
    expect(parseSuccessBody(200, JSON.stringify([{ id: 'f' }])).payload).toEqual([{ id: 'f' }]);
    expect(parseSuccessBody(200, JSON.stringify({ data: [{ id: 'f' }], messages: [] })).payload).toEqual([
      { id: 'f' },
    ]);
    expect(parseSuccessBody(200, JSON.stringify({ data: 1, messages: [{ code: 'x' }] })).messages).toEqual([
      { code: 'x' },
    ]);
    expect(parseSuccessBody(204, '').payload).toBeUndefined();
    expect(parseSuccessBody(200, '').payload).toBeUndefined();
  });

  it('treats a v1 body with success:false as an error even on 200', () => {
    const body = { success: false, status: 404, error: { code: 'not_found', message: 'no such task' } };
    expect(() => parseSuccessBody(200, JSON.stringify(body))).toThrow(InferenceApiError);
  });

  it('parses RFC 9457 problem details: message from detail, code from the type path', () => {
    const e = parseErrorBody(
      404,
      JSON.stringify({
        type: 'https://api.inference.sh/errors/not_found',
        title: 'Not Found',
        status: 404,
        detail: 'app x not found',
      }),
    );
    expect([e.status, e.code, e.detail]).toEqual([404, 'not_found', 'app x not found']);
    const titled = parseErrorBody(500, JSON.stringify({ title: 'Internal' }));
    expect([titled.code, titled.detail]).toEqual(['500', 'Internal']);
  });

  it('parses the v1 error shape', () => {
    const e = parseErrorBody(
      401,
      JSON.stringify({ success: false, status: 401, error: { code: 'unauthorized', message: 'bad key' } }),
    );
    expect([e.code, e.detail]).toEqual(['unauthorized', 'bad key']);
  });

  it('keeps 412 requirement errors, and falls back to raw text', () => {
    const e = parseErrorBody(
      412,
      JSON.stringify({
        satisfied: false,
        errors: [{ type: 'secret', key: 'HF_TOKEN', message: 'set HF_TOKEN' }],
      }),
    );
    expect(e.requirements).toEqual([{ type: 'secret', key: 'HF_TOKEN', message: 'set HF_TOKEN' }]);
    expect(parseErrorBody(502, '<html>Bad gateway</html>').detail).toBe('<html>Bad gateway</html>');
    expect(parseErrorBody(502, 'x'.repeat(900)).detail).toHaveLength(500);
  });

  it('reads Retry-After (seconds or date) before X-RateLimit-Reset (epoch s, epoch ms or delta)', () => {
    const now = 1_800_000_000_000;
    expect(serverWaitMs({ 'retry-after': '3', 'x-ratelimit-reset': '99' }, now)).toBe(3000);
    expect(serverWaitMs({ 'retry-after': new Date(now + 5000).toUTCString() }, now)).toBe(5000);
    expect(serverWaitMs({ 'x-ratelimit-reset': String(now / 1000 + 7) }, now)).toBe(7000);
    expect(serverWaitMs({ 'x-ratelimit-reset': String(now + 9000) }, now)).toBe(9000);
    expect(serverWaitMs({ 'x-ratelimit-reset': '4' }, now)).toBe(4000);
    expect(serverWaitMs({}, now)).toBeUndefined();
  });

  it('knows which network errors mean the request never left', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(classifyNetworkError(refused, false).neverSent).toBe(true);
    const dns = Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' });
    expect(classifyNetworkError(new Error('fetch failed', { cause: dns }), false).neverSent).toBe(true);
    const reset = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    expect(classifyNetworkError(reset, false).neverSent).toBe(false);
    expect(classifyNetworkError(refused, true).neverSent).toBe(false);
  });
});

describe('statuses (§5)', () => {
  it('reads numbers, strings and status_text, status_text first', () => {
    const r = new StatusReader();
    expect(r.read({ status: 2 })).toBe('queued');
    expect(r.read({ status: 'setting_up' })).toBe('setting_up');
    expect(r.read({ status: 'scheduled' })).toBe('dispatched');
    expect(r.read({ status: 1, status_text: 'queued' })).toBe('queued');
    expect(r.read({ status: 42 })).toBe('unknown');
    expect(r.read({})).toBeUndefined();
  });

  it('learns the old numbering from status_text and keeps it', () => {
    const r = new StatusReader();
    expect(r.read({ status: 9, status_text: 'completed' })).toBe('completed');
    expect(r.usesOldNumbering).toBe(true);
    expect(r.read({ status: 10 })).toBe('failed');
    expect(r.read({ status: 11 })).toBe('cancelled');
    expect(r.read({ status: 8 })).toBe('uploading');
  });

  it('takes an old 9 with an output as completed, and an old 11 without an error as cancelled', () => {
    const r = new StatusReader();
    expect(r.read({ status: 9 })).toBe('uploading');
    expect(r.read({ status: 11 }, { status: 11, error: 'boom' })).toBe('failed');
    expect(r.read({ status: 11 }, { status: 11 })).toBe('cancelled');
    expect(r.read({ status: 9 }, { status: 9, output: { file: 'https://x/y.mp4' } })).toBe('completed');
    expect(r.usesOldNumbering).toBe(true);
  });
});

describe('step progress from logs (§8)', () => {
  const log = (log_type: number, content: string) => ({ id: `${log_type}:${content}`, log_type, content });

  it('reads counters only from task and run logs, and only with the requested step count', () => {
    const now = Date.now();
    const estimate = new ProgressEstimate(600_000, new StatusReader(), 30);
    let shown: BackendProgress | undefined;
    const observe = (logs: ReturnType<typeof log>[]) => {
      estimate.observe('running', { status: 7, logs }, now);
      shown = estimate.next(now) ?? shown;
      return shown!;
    };

    const setup = log(3, 'Loading checkpoint shards: 100%|##########| 3/3 [00:02<00:00]');
    expect(observe([setup])).toMatchObject({ phase: 'running', detail: 'generating' });
    expect(shown!.percent).toBeLessThan(50);
    // A task log whose counter is not the sampler's (another denominator) is no step either.
    const shards = log(4, 'Loading checkpoint shards: 3/3 [00:01<00:00]');
    const frames = log(1, 'decoding 2/81 [00:01<00:40]');
    expect(observe([setup, shards, frames])).toMatchObject({ detail: 'generating' });
    expect(shown!.percent).toBeLessThan(50);

    const step = log(4, 'denoising 12/30');
    expect(observe([setup, shards, step, log(3, 'setup 3/3 [')])).toMatchObject({
      detail: 'generating (step 12/30)',
      percent: 47,
    });
    const run = log(1, ' 24/30 [01:41<00:25,  4.20s/it]');
    expect(observe([setup, step, run])).toMatchObject({ detail: 'generating (step 24/30)', percent: 79 });
  });
});

describe('output files (§10.3)', () => {
  it('takes the configured key, string or object, never path', () => {
    expect(outputFile({ video: 'https://cloud.inference.sh/a.mp4' }, 'video')).toEqual({
      url: 'https://cloud.inference.sh/a.mp4',
    });
    expect(
      outputFile(
        {
          file: {
            uri: 'https://cloud.inference.sh/b.mp4',
            path: '/var/x.mp4',
            content_type: 'video/mp4',
            size: 9,
          },
        },
        'file',
      ),
    ).toEqual({ url: 'https://cloud.inference.sh/b.mp4', contentType: 'video/mp4', bytes: 9 });
    expect(outputFile({ file: { path: '/var/x.mp4' } }, 'file')).toBeUndefined();
  });

  it('falls back to the first file-like value', () => {
    expect(
      outputFile({ output_meta: null, result: { uri: 'https://cloud.inference.sh/c.mp4' } }, 'video'),
    ).toEqual({
      url: 'https://cloud.inference.sh/c.mp4',
    });
    expect(outputFile({ note: 'done', clip: 'inf://files/abc' }, 'file')).toEqual({ url: 'inf://files/abc' });
    expect(outputFile(null, 'file')).toBeUndefined();
  });
});

describe('compareAppSchema (wan-apps.md rule 3)', () => {
  const profile = MODEL_PROFILES['wan2.2-a14b'];
  const schema = (input_schema: unknown) => ({ version: { input_schema } });

  it('reports enum values the adapter may send that the app does not list', () => {
    const problems = compareAppSchema(
      profile,
      schema({
        type: 'object',
        required: ['image', 'prompt'],
        properties: {
          image: {},
          prompt: {},
          negative_prompt: {},
          resolution: { enum: ['480p', '1080p'] },
          num_frames: {},
          fps: {},
          num_inference_steps: {},
          seed: {},
          guidance_scale: {},
          boundary_ratio: {},
        },
      }),
    );
    expect(problems).toEqual([
      'app infsh/wan2-2-i2v-a14b does not accept resolution="720p" (allowed: "480p", "1080p")',
    ]);
  });

  it('reports renamed fields and a schema given as a JSON string', () => {
    const problems = compareAppSchema(
      profile,
      schema(
        JSON.stringify({
          type: 'object',
          required: ['input_image', 'prompt'],
          properties: { input_image: {}, prompt: {} },
        }),
      ),
    );
    expect(problems).toContain(
      'app infsh/wan2-2-i2v-a14b requires the input field "input_image", which the Wan 2.2 I2V A14B adapter does not fill',
    );
    expect(problems).toContain(
      'app infsh/wan2-2-i2v-a14b has no input field "image" that the Wan 2.2 I2V A14B adapter sends',
    );
    expect(compareAppSchema(profile, {})).toHaveLength(1);
  });
});
