import { describe, expect, it } from 'vitest';
import type { HistoryItem } from '../../../src/backends/comfyui/http-client.js';
import { readOutcome } from '../../../src/backends/comfyui/outcome.js';
import { CancelledError, ConfigurationError, UserFacingError } from '../../../src/core/errors.js';
import { silentLog } from '../../support/comfyui-harness.js';

const video = { '14': { images: [{ filename: 'job_00001_.mp4', subfolder: 'kinema', type: 'output' }] } };

const outcome = (item: HistoryItem) => {
  try {
    return readOutcome(item, silentLog);
  } catch (error) {
    return error;
  }
};

describe('readOutcome', () => {
  it("returns the video and the render time by the server's clock", () => {
    expect(
      outcome({
        status: {
          status_str: 'success',
          completed: true,
          messages: [
            ['execution_start', { timestamp: 10_000 }],
            ['execution_cached', { nodes: [] }],
            ['execution_success', { timestamp: 52_500 }],
          ],
        },
        outputs: video,
      }),
    ).toEqual({
      file: { filename: 'job_00001_.mp4', subfolder: 'kinema', type: 'output' },
      durationMs: 42_500,
    });
    expect(outcome({ status: { completed: true }, outputs: video })).toEqual({
      file: { filename: 'job_00001_.mp4', subfolder: 'kinema', type: 'output' },
    });
  });

  it('turns the last end message of a failed prompt into the job error', () => {
    const failed = (messages: [string, Record<string, unknown>][]) =>
      outcome({ status: { status_str: 'error', completed: false, messages } });
    expect(failed([['execution_interrupted', {}]])).toBeInstanceOf(CancelledError);
    const oom = failed([
      ['execution_error', { exception_type: 'torch.OutOfMemoryError', node_type: 'KSampler' }],
    ]);
    expect(oom).toBeInstanceOf(UserFacingError);
    expect((oom as Error).message).toBe('the GPU ran out of memory, try a lower resolution or fewer frames');
    const other = failed([['execution_error', { exception_type: 'RuntimeError', node_type: 'VAEDecode' }]]);
    expect((other as Error).message).toBe('the GPU server failed while rendering the video (in VAEDecode)');
    expect((failed([]) as Error).message).toBe('the GPU server stopped the job without a result');
  });

  it('refuses a finished workflow without a video output as a setup problem', () => {
    const error = outcome({
      status: { status_str: 'success', completed: true },
      outputs: { '3': { images: [{ filename: 'still.png', subfolder: '', type: 'output' }] } },
    });
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/finished without a video output/);
  });
});
