import { describe, expect, it } from 'vitest';
import { InferenceApiError } from '../../../src/backends/inference-sh/envelope.js';
import { ErrorTranslator } from '../../../src/backends/inference-sh/errors.js';
import { NetworkError } from '../../../src/backends/inference-sh/network-error.js';
import {
  AmbiguousSubmitError,
  ConfigurationError,
  TransientError,
  UserFacingError,
} from '../../../src/core/errors.js';
import { MODEL_PROFILES } from '../../../src/core/models.js';

/** The translation of inference.sh failures on its own, without a server. */

const KEY = 'inf_secret_1234567890';
const translator = new ErrorTranslator((text) => text.split(KEY).join('[redacted]'), 'infsh/wan2-1-i2v');
const answer = (status: number, detail = 'nope', code = String(status)) =>
  new InferenceApiError(status, code, detail);

describe('ErrorTranslator', () => {
  it('makes a refused key a ConfigurationError that names INFERENCE_API_KEY, with the key masked', () => {
    const error = translator.translate(answer(401, `bad key ${KEY}`, 'unauthorized'));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toMatch(
      /^inference\.sh refused the API key \(HTTP 401 unauthorized: bad key \[redacted\]\)/,
    );
    expect(error.message).toMatch(/INFERENCE_API_KEY/);
    expect(error.message).not.toContain(KEY);
    expect(translator.translate(answer(403))).toBeInstanceOf(ConfigurationError);
  });

  it('lists the unmet requirements of a 412', () => {
    const error = translator.translate(
      new InferenceApiError(412, '412', 'unmet', [{ key: 'HF_TOKEN' }, { message: 'connect Hugging Face' }]),
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toBe(
      'inference.sh cannot run the app until its requirements are met: HF_TOKEN; connect Hugging Face',
    );
    expect(translator.translate(answer(412, 'scope missing')).message).toMatch(/met: scope missing$/);
  });

  it('reads a 404 on a run as a retired app and points at the configured one', () => {
    const error = translator.translate(answer(404), { app: 'infsh/wan2-2-i2v-5b@v_3' });
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toBe(
      'model unavailable: inference.sh has no app infsh/wan2-2-i2v-5b@v_3 (Wan 2.2 TI2V 5B; it may have been retired). Use the model wan2.1 (the configured INFERENCE_APP infsh/wan2-1-i2v) instead, or pick another model (wan2.1, wan2.2-a14b, wan2.2-lightning).',
    );
    expect(translator.translate(answer(404), { app: 'someone/else' }).message).toBe(
      'model unavailable: inference.sh has no app someone/else',
    );
  });

  it('suggests other models when the configured app itself is the one missing', () => {
    const error = translator.unavailable('infsh/wan2-1-i2v', MODEL_PROFILES['wan2.1']);
    expect(error.message).toMatch(
      /Pick another model \(wan2\.2-a14b, wan2\.2-5b, wan2\.2-lightning\) or set INFERENCE_APP to an app that exists, e\.g\. infsh\/wan2-2-i2v-a14b\.$/,
    );
  });

  it('reads a 404 while following as a task that is gone', () => {
    const error = translator.translate(answer(404), { taskId: 't-9' });
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toMatch(/^inference\.sh no longer knows task t-9/);
  });

  it('makes 429 and 5xx transient, keeping the wait the server asked for', () => {
    const busy = translator.translate(new InferenceApiError(429, 'rate', 'slow down', [], 7_000));
    expect(busy).toBeInstanceOf(TransientError);
    expect((busy as TransientError).retryAfterMs).toBe(7_000);
    expect(translator.translate(answer(503, 'down')).message).toBe(
      'inference.sh is busy or failing (HTTP 503: down)',
    );
  });

  it('makes other answers user-facing: 400/422 as rejected input, the rest as refused', () => {
    expect(translator.translate(answer(422, 'num_frames too large')).message).toBe(
      'inference.sh rejected the request: num_frames too large',
    );
    const teapot = translator.translate(answer(418, 'short and stout', 'teapot'));
    expect(teapot).toBeInstanceOf(UserFacingError);
    expect(teapot.message).toBe('inference.sh refused the request (HTTP 418 teapot): short and stout');
  });

  it('makes a network failure transient and passes the pipeline’s own errors through', () => {
    const network = translator.translate(new NetworkError(`reset talking to ${KEY}`, 'ECONNRESET', false));
    expect(network).toBeInstanceOf(TransientError);
    expect(network.message).toBe('inference.sh is not reachable (reset talking to [redacted])');
    const ambiguous = new AmbiguousSubmitError('maybe billed');
    expect(translator.translate(ambiguous)).toBe(ambiguous);
    const transient = new TransientError('later');
    expect(translator.translate(transient)).toBe(transient);
    expect(translator.translate('boom').message).toBe('boom');
  });
});
