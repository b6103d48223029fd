import { describe, expect, it } from 'vitest';
import type { ModelAvailabilitySink } from '../../../src/backends/backend.js';
import { ConfigurationError } from '../../../src/core/errors.js';
import { MODEL_IDS, type ModelId } from '../../../src/core/request.js';
import {
  ModelAvailabilityRecord,
  modelRefusal,
  UNAVAILABLE_TTL_SECONDS,
  unavailableModels,
} from '../../../src/queue/model-availability.js';
import { type Harness, harnessPerTest, submitCatching } from '../../support/inference-sh-harness.js';

/**
 * A gone app, from the worker that finds it to the refusal the service gives: the backend reports
 * it, the worker's record keeps it in Redis for a while, and the reader and the refusal text name
 * the models that still work.
 */

const start = harnessPerTest();

const WAN22 = ['infsh/wan2-2-i2v-a14b', 'infsh/wan2-2-i2v-5b', 'infsh/lightning-wan-2-2-i2v-a14b'];
const WAN21_REFUSAL =
  'Wan 2.1 is not available on inference.sh any more (the app was retired); use wan2.2-a14b, wan2.2-5b or wan2.2-lightning';

function recorded(h: Harness) {
  return unavailableModels(h.redis, h.prefix);
}

describe('the fake, for the retired app (wan-apps.md §0, inference-sh-api.md §4)', () => {
  it('answers 404 not_found problem details to its record and to a run, creating no task', async () => {
    const h = await start();
    const headers = { authorization: `Bearer ${h.fake.apiKey}`, 'content-type': 'application/json' };
    const record = await fetch(`${h.fake.apiUrl}/apps/infsh/wan2-1-i2v`, { headers });
    const run = await fetch(`${h.fake.apiUrl}/apps/run`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        app: 'infsh/wan2-1-i2v',
        input: { prompt: 'p', input_image: 'https://x/i.png' },
      }),
    });
    for (const answer of [record, run]) {
      expect(answer.status).toBe(404);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      expect(await answer.json()).toEqual({
        type: 'https://api.inference.sh/errors/not_found',
        title: 'Not Found',
        status: 404,
        detail: 'app infsh/wan2-1-i2v not found',
      });
    }
    expect(h.fake.tasksCreated()).toBe(0);
  });
});

describe('a gone app, recorded', () => {
  it("is found by a worker's start-up check, one line per app, and refused with the models that work", async () => {
    const h = await start();
    const backend = h.makeBackend({ availability: new ModelAvailabilityRecord(h.redis, h.prefix) });
    const problems = await backend.checkApps();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^model unavailable: inference.sh has no app infsh\/wan2-1-i2v /);

    const unavailable = await recorded(h);
    expect([...unavailable.keys()]).toEqual(['wan2.1']);
    expect(unavailable.get('wan2.1')).toEqual({
      service: 'inference.sh',
      reason: 'the app was retired',
      at: expect.any(Number),
    });
    expect(modelRefusal('wan2.1', unavailable, MODEL_IDS)).toBe(WAN21_REFUSAL);
    for (const model of MODEL_IDS.filter((id) => id !== 'wan2.1')) {
      expect(modelRefusal(model, unavailable, MODEL_IDS)).toBeUndefined();
    }
    // The record lapses by itself unless a worker keeps finding the app gone.
    const ttl = await h.redis.ttl(`${h.prefix}:model-unavailable:wan2.1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(UNAVAILABLE_TTL_SECONDS);
  });

  it('is found by a 404 at run time, and cleared by a fresh look once the app is back', async () => {
    const h = await start();
    const backend = h.makeBackend({
      availability: new ModelAvailabilityRecord(h.redis, h.prefix),
      appRecheckMs: 0,
    });
    h.fake.setApps(WAN22.filter((app) => app !== 'infsh/wan2-2-i2v-5b'));
    const { error } = await submitCatching(backend, h.job({ model: 'wan2.2-5b' }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(
      /^model unavailable: inference.sh has no app infsh\/wan2-2-i2v-5b/,
    );
    expect(modelRefusal('wan2.2-5b', await recorded(h), MODEL_IDS)).toBe(
      'Wan 2.2 TI2V 5B is not available on inference.sh any more (the app was retired); use wan2.1, wan2.2-a14b or wan2.2-lightning',
    );

    // Still gone: the worker's next look keeps the record.
    expect(await backend.health()).toEqual({ ok: true });
    expect((await recorded(h)).has('wan2.2-5b')).toBe(true);

    h.fake.setApps(WAN22);
    expect(await backend.health()).toEqual({ ok: true });
    expect((await recorded(h)).size).toBe(0);
  });

  it('is found by the health check of the configured app, which says why the worker cannot work', async () => {
    const h = await start();
    const backend = h.makeBackend({
      app: 'infsh/wan2-1-i2v',
      availability: new ModelAvailabilityRecord(h.redis, h.prefix),
    });
    const health = await backend.health();
    expect(health.ok).toBe(false);
    expect(health.message).toMatch(/^model unavailable: inference.sh has no app infsh\/wan2-1-i2v/);
    expect([...(await recorded(h)).keys()]).toEqual(['wan2.1']);
  });

  it('does not fail the check when the record cannot be written', async () => {
    const h = await start();
    const failing: ModelAvailabilitySink = {
      unavailable: async () => {
        throw new Error('redis is down');
      },
      available: async () => {
        throw new Error('redis is down');
      },
    };
    const problems = await h.makeBackend({ availability: failing }).checkApps();
    expect(problems).toEqual([
      expect.stringMatching(/^model unavailable: inference.sh has no app infsh\/wan2-1-i2v/),
    ]);
  });
});

describe('modelRefusal', () => {
  const gone = (...models: ModelId[]) =>
    new Map(models.map((model) => [model, { service: 'inference.sh', reason: 'the app was retired' }]));

  it('names only the models that are left, in the order offered', () => {
    expect(modelRefusal('wan2.1', gone('wan2.1', 'wan2.2-5b'), MODEL_IDS)).toBe(
      'Wan 2.1 is not available on inference.sh any more (the app was retired); use wan2.2-a14b or wan2.2-lightning',
    );
    expect(modelRefusal('wan2.2-a14b', gone('wan2.2-a14b'), ['wan2.2-a14b', 'wan2.2-lightning'])).toBe(
      'Wan 2.2 I2V A14B is not available on inference.sh any more (the app was retired); use wan2.2-lightning',
    );
  });

  it('says so when no model is left, and refuses nothing that is not recorded', () => {
    expect(modelRefusal('wan2.1', gone('wan2.1'), ['wan2.1'])).toBe(
      'Wan 2.1 is not available on inference.sh any more (the app was retired), and no other model is available right now',
    );
    expect(modelRefusal('wan2.2-5b', gone('wan2.1'), MODEL_IDS)).toBeUndefined();
    expect(modelRefusal('wan2.2-5b', new Map(), MODEL_IDS)).toBeUndefined();
  });
});
