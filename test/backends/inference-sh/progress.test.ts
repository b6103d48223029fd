import { describe, expect, it } from 'vitest';
import {
  durationKey,
  fallbackDurationMs,
  ProgressEstimate,
} from '../../../src/backends/inference-sh/progress.js';
import { StatusReader } from '../../../src/backends/inference-sh/task.js';
import { MODEL_PROFILES } from '../../../src/core/models.js';
import type { GenerationRequest } from '../../../src/core/request.js';

/** The progress estimate of an inference.sh task on its own: statuses, events and time in, a line out. */

const T0 = Date.parse('2026-01-01T12:00:00Z');
const EXPECTED = 60_000;
const estimate = () => new ProgressEstimate(EXPECTED, new StatusReader(), 30);
const request = (extra: Partial<GenerationRequest> = {}): GenerationRequest => ({
  prompt: 'p',
  model: 'wan2.1',
  seed: 1,
  input_image: { key: 'k', contentType: 'image/png', bytes: 1, width: 1, height: 1, filename: 'a.png' },
  ...extra,
});

describe('ProgressEstimate', () => {
  // Repeats are the worker's WorkerProgressWriter's to drop (test/queue/progress-path.test.ts).
  it('shows a queued task as waiting, without an ETA, and the same while nothing changes', () => {
    const p = estimate();
    p.observe('queued', { status: 2 }, T0);
    expect(p.next(T0)).toEqual({ phase: 'submitted', percent: 1, detail: 'waiting for a GPU' });
    expect(p.next(T0 + 1_000)).toEqual({ phase: 'submitted', percent: 1, detail: 'waiting for a GPU' });
    expect(p.activeSince).toBeUndefined();
  });

  it('moves a running task by time against the expected run, from when the events say it started', () => {
    const p = estimate();
    const task = { status: 7, events: [{ status: 7, event_time: new Date(T0).toISOString() }] };
    p.observe('running', task, T0 + 30_000);
    expect(p.activeSince).toBe(T0);
    expect(p.reliable).toBe(true);
    expect(p.next(T0 + 30_000)).toEqual({
      phase: 'running',
      percent: 52,
      detail: 'generating',
      etaAt: T0 + EXPECTED,
    });
  });

  it('keeps the ETA ahead and the percent under 100 when a run overruns its estimate', () => {
    const p = estimate();
    p.observe('running', { status: 7, events: [{ status: 7, created_at: new Date(T0).toISOString() }] }, T0);
    const late = T0 + 5 * EXPECTED;
    const shown = p.next(late);
    expect(shown?.etaAt).toBe(late + 6_000);
    expect(shown?.percent).toBeLessThanOrEqual(99);
  });

  it('trusts a start it saw live only when it saw the task being dispatched or prepared', () => {
    const seenRunning = estimate();
    seenRunning.observe('running', { status: 7 }, T0);
    expect([seenRunning.activeSince, seenRunning.reliable]).toEqual([T0, false]);
    const seenDispatched = estimate();
    seenDispatched.observe('dispatched', { status: 3 }, T0);
    expect([seenDispatched.activeSince, seenDispatched.reliable]).toEqual([T0, true]);
  });

  it('never moves back, even when a stale status arrives after a later one', () => {
    const p = estimate();
    p.observe('running', { status: 7, logs: [{ log_type: 4, content: 'step 24/30' }] }, T0);
    expect(p.next(T0)).toMatchObject({ percent: 79, detail: 'generating (step 24/30)' });
    p.observe('setting_up', { status: 6 }, T0 + 1_000);
    expect(p.next(T0 + 1_000)).toMatchObject({ detail: 'loading the model', percent: 79 });
  });
});

describe('run-time estimate keys and fallback', () => {
  it('keys the history by app (without its pinned version), resolution, frames and steps in effect', () => {
    expect(durationKey(request({ model: 'wan2.2-lightning' }), 'infsh/lightning-wan-2-2-i2v-a14b@v_2')).toBe(
      'inference:infsh/lightning-wan-2-2-i2v-a14b:480p:81f:4s',
    );
    expect(durationKey(request({ size: '720x1280', num_frames: 49 }), 'infsh/wan2-1-i2v')).toBe(
      'inference:infsh/wan2-1-i2v:720p:49f:30s',
    );
  });

  it('guesses from steps, frames and area before any run has been recorded', () => {
    const rate = { baseMs: 60_000, perStepMs: 6_000 };
    const a14b = request({ model: 'wan2.2-a14b' });
    expect(fallbackDurationMs(a14b, MODEL_PROFILES['wan2.2-a14b'], rate)).toBe(60_000 + 6_000 * 40 * 2.25);
    const long = request({ num_frames: 161 });
    expect(fallbackDurationMs(long, MODEL_PROFILES['wan2.1'], rate)).toBe(
      Math.round(60_000 + 6_000 * 30 * (161 / 81)),
    );
  });
});
