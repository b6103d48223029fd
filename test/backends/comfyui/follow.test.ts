import { describe, expect, it } from 'vitest';
import type { BackendEvent, BackendProgress } from '../../../src/backends/backend.js';
import {
  type FollowContext,
  type FollowSettings,
  PromptFollower,
} from '../../../src/backends/comfyui/follow.js';
import type { HistoryItem } from '../../../src/backends/comfyui/http-client.js';
import { NodeProgress } from '../../../src/backends/comfyui/node-progress.js';
import type { ComfyGraph } from '../../../src/backends/comfyui/nodes.js';
import { PromptMailbox } from '../../../src/backends/comfyui/prompt-events.js';
import type { PromptState } from '../../../src/backends/comfyui/prompt-state.js';
import type { SocketEvent } from '../../../src/backends/comfyui/socket.js';
import { CancelledError, TransientError, UserFacingError } from '../../../src/core/errors.js';
import { silentLog, waitUntil } from '../../support/comfyui-harness.js';

/**
 * The follower alone, against a scripted server: the test sets what queue and history say and which
 * socket events arrive, and reads the follower's events one at a time. Poll intervals are either
 * tiny (the follower re-asks until something changes) or far longer than any test, so only an event
 * makes it ask.
 */

const PROMPT = 'prompt-1';
const NEVER = 600_000;
const GRAPH: ComfyGraph = {
  '1': { class_type: 'UNETLoader', inputs: {} },
  '2': { class_type: 'KSampler', inputs: { model: ['1', 0] } },
  '3': { class_type: 'VAEDecode', inputs: { samples: ['2', 0] } },
  '4': { class_type: 'SaveVideo', inputs: { images: ['3', 0] } },
};

const finished = (timestamps?: { start: number; end: number }): HistoryItem => ({
  status: {
    status_str: 'success',
    completed: true,
    messages: timestamps
      ? [
          ['execution_start', { prompt_id: PROMPT, timestamp: timestamps.start }],
          ['execution_success', { prompt_id: PROMPT, timestamp: timestamps.end }],
        ]
      : [],
  },
  outputs: { '4': { images: [{ filename: 'kinema_00001_.mp4', subfolder: 'kinema', type: 'output' }] } },
});

/** A ComfyUI server reduced to what the follower sees: queue/history answers and socket events. */
class ScriptedServer {
  state: PromptState = { kind: 'pending', position: 1 };
  /** What a resubmit makes the server say next; it confirms unless told otherwise. */
  onResubmit: () => boolean = () => true;
  resubmits = 0;
  /** How often the follower asked queue and history. */
  locates = 0;
  cancelled = false;
  recorded: number[] = [];
  readonly reconnects: string[] = [];
  readonly socket = {
    connected: true,
    lastMessageAt: Date.now(),
    reconnect: (reason: string) => {
      this.reconnects.push(reason);
      this.socket.connected = false;
      this.socket.lastMessageAt = Date.now();
    },
  };
  private readonly listeners = new Set<(event: SocketEvent) => void>();
  readonly mailbox = new PromptMailbox(
    {
      subscribe: (listener) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
    },
    PROMPT,
  );

  send(event: SocketEvent) {
    for (const listener of this.listeners) listener(event);
  }

  message(type: string, data: Record<string, unknown> = {}) {
    this.send({ kind: 'message', message: { type, data: { prompt_id: PROMPT, ...data } } });
  }

  follower(settings: Partial<FollowSettings> = {}, expectedMs?: number) {
    const context: FollowContext = {
      settings: {
        historyPollMs: NEVER,
        historyPollDownMs: 1,
        queuePollMs: 1,
        confirmPollMs: 1,
        serverDownTimeoutMs: NEVER,
        maxResubmits: 3,
        silentCheckMs: NEVER,
        socketIdleMs: 0,
        decodeAllowanceMs: 0,
        ...settings,
      },
      locate: async () => {
        this.locates += 1;
        return this.state;
      },
      resubmit: async () => {
        this.resubmits += 1;
        return this.onResubmit();
      },
      wasCancelled: () => this.cancelled,
      recordDuration: async (ms) => {
        this.recorded.push(ms);
      },
    };
    return new PromptFollower(context, {
      promptId: PROMPT,
      server: { url: 'http://gpu1:8188', host: 'gpu1:8188', socket: this.socket },
      events: this.mailbox,
      progress: new NodeProgress(GRAPH),
      expectedMs,
      log: silentLog,
    }).run(AbortSignal.timeout(30_000));
  }
}

/** The next event the follower yields, which must be a progress report. */
async function nextProgress(run: AsyncGenerator<BackendEvent>): Promise<BackendProgress> {
  const { value, done } = await run.next();
  if (done || value.type !== 'progress') throw new Error(`expected progress, got ${JSON.stringify(value)}`);
  return value.progress;
}

const failure = (run: AsyncGenerator<BackendEvent>) =>
  run.next().then(
    () => undefined,
    (error: unknown) => error,
  );

describe('PromptFollower', () => {
  it('reports the queue position, then node and sampler progress in order, then the result', async () => {
    const server = new ScriptedServer();
    server.state = { kind: 'pending', position: 2 };
    const run = server.follower();
    const seen: BackendProgress[] = [await nextProgress(run)];
    const step = async (act: () => void) => {
      act();
      seen.push(await nextProgress(run));
    };
    await step(() => {
      server.state = { kind: 'pending', position: 1 };
      server.send({ kind: 'message', message: { type: 'status', data: {} } });
    });
    await step(() => {
      server.state = { kind: 'running' };
      server.message('execution_start');
    });
    await step(() => server.message('executing', { node: '1' }));
    await step(() => server.message('executing', { node: '2' }));
    for (let value = 1; value <= 4; value += 1) {
      await step(() => server.message('progress', { node: '2', value, max: 4 }));
    }
    await step(() => server.message('executing', { node: '3' }));
    await step(() => server.message('executing', { node: '4' }));
    await step(() => {
      server.state = { kind: 'done', item: finished({ start: 1_000, end: 5_000 }) };
      server.message('execution_success');
    });
    const completed = await run.next();

    expect(seen.map((p) => p.detail)).toEqual([
      'number 2 in the GPU queue',
      'number 1 in the GPU queue',
      'starting',
      'loading the model',
      'working',
      'step 1/4',
      'step 2/4',
      'step 3/4',
      'step 4/4',
      'decoding frames',
      'encoding the video',
      'rendered',
    ]);
    expect(seen.slice(0, 2).map((p) => [p.phase, p.backendQueuePosition])).toEqual([
      ['submitted', 2],
      ['submitted', 1],
    ]);
    const percents = seen.slice(2).map((p) => p.percent!);
    for (let i = 1; i < percents.length; i += 1)
      expect(percents[i]!).toBeGreaterThanOrEqual(percents[i - 1]!);
    expect(percents.at(-2)).toBeLessThan(99);
    expect(percents.at(-1)).toBe(99);
    // From the second sampler step on, the pace gives an ETA.
    expect(seen.find((p) => p.detail === 'step 1/4')?.etaAt).toBeUndefined();
    expect(seen.find((p) => p.detail === 'step 2/4')?.etaAt).toBeDefined();

    expect(completed.value).toEqual({
      type: 'completed',
      output: {
        location: JSON.stringify({
          server: 'http://gpu1:8188',
          promptId: PROMPT,
          filename: 'kinema_00001_.mp4',
          subfolder: 'kinema',
          type: 'output',
        }),
        contentType: 'video/mp4',
      },
    });
    // The server's own timestamps give the render time kept for later ETAs.
    expect(server.recorded).toEqual([4_000]);
    expect((await run.next()).done).toBe(true);
  });

  it('follows a prompt it did not submit (re-attached by prompt id) through queue and history alone', async () => {
    const server = new ScriptedServer();
    server.state = { kind: 'running' };
    const run = server.follower({ historyPollMs: 1 }, 60_000);
    const first = await nextProgress(run);
    expect(first).toMatchObject({ phase: 'running', detail: 'starting' });
    // Past runs of this shape give the ETA, counted from when the queue first showed it running.
    expect(first.etaAt).toBeGreaterThan(Date.now());

    // Another prompt's events on the same socket change nothing here.
    server.send({
      kind: 'message',
      message: { type: 'progress', data: { prompt_id: 'someone-else', node: '2', value: 3, max: 4 } },
    });
    server.state = { kind: 'done', item: finished() };
    expect(await nextProgress(run)).toMatchObject({ percent: 99, detail: 'rendered' });
    expect((await run.next()).value).toMatchObject({ type: 'completed' });
    expect(server.resubmits).toBe(0);
  });

  it('waits for a server that dropped mid-run, then resubmits the prompt its restart lost', async () => {
    const server = new ScriptedServer();
    server.state = { kind: 'running' };
    const run = server.follower();
    expect(await nextProgress(run)).toMatchObject({ phase: 'running', detail: 'starting' });
    server.message('progress', { node: '2', value: 1, max: 4 });
    const stepped = await nextProgress(run);
    expect(stepped.detail).toBe('step 1/4');

    server.state = { kind: 'down', error: new Error('connect ECONNREFUSED') };
    server.socket.connected = false;
    server.send({ kind: 'close' });
    expect(await nextProgress(run)).toEqual({
      phase: 'running',
      percent: stepped.percent,
      detail: 'waiting for the GPU server to come back',
    });

    server.state = { kind: 'absent' };
    server.onResubmit = () => {
      server.state = { kind: 'pending', position: 1 };
      return true;
    };
    server.socket.connected = true;
    server.send({ kind: 'open' });
    expect(await nextProgress(run)).toEqual({ phase: 'submitted', detail: 'queued on the GPU server' });
    expect(server.resubmits).toBe(1);
    expect(await nextProgress(run)).toMatchObject({ phase: 'submitted', backendQueuePosition: 1 });

    server.state = { kind: 'running' };
    server.message('execution_start');
    // The rerun starts from scratch: its first nodes do not count the lost run's sampler as done,
    // and the shown percent never goes back.
    expect(await nextProgress(run)).toMatchObject({ phase: 'running', percent: stepped.percent });
    server.message('executing', { node: '1' });
    expect(await nextProgress(run)).toMatchObject({ detail: 'loading the model', percent: stepped.percent });
    server.state = { kind: 'done', item: finished() };
    server.message('execution_success');
    expect(await nextProgress(run)).toMatchObject({ percent: 99 });
    expect((await run.next()).value).toMatchObject({ type: 'completed' });
    expect(server.resubmits).toBe(1);
  });

  it('gives up on a server that stays away longer than serverDownTimeoutMs', async () => {
    const server = new ScriptedServer();
    server.state = { kind: 'down', error: new Error('connect ECONNREFUSED') };
    const run = server.follower({ serverDownTimeoutMs: 0 });
    expect(await nextProgress(run)).toEqual({
      phase: 'submitted',
      detail: 'waiting for the GPU server to come back',
    });
    const error = await failure(run);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toBe(
      'the GPU server gpu1:8188 has not answered for 0 s (connect ECONNREFUSED)',
    );
  });

  it('stops resubmitting a prompt lost maxResubmits times', async () => {
    const server = new ScriptedServer();
    server.state = { kind: 'absent' };
    const run = server.follower({ maxResubmits: 1 });
    expect(await nextProgress(run)).toMatchObject({ detail: 'queued on the GPU server' });
    const error = await failure(run);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toBe('the GPU server lost the job 1 times; giving up for now');
    expect(server.resubmits).toBe(1);
  });

  it('ends with CancelledError, and resubmits nothing, when this process cancelled the prompt', async () => {
    const server = new ScriptedServer();
    server.state = { kind: 'absent' };
    server.cancelled = true;
    expect(await failure(server.follower())).toBeInstanceOf(CancelledError);
    expect(server.resubmits).toBe(0);
  });

  it('ends with CancelledError when the server interrupts the prompt', async () => {
    const server = new ScriptedServer();
    server.state = { kind: 'running' };
    const run = server.follower();
    await nextProgress(run);
    server.message('execution_interrupted');
    expect(await failure(run)).toBeInstanceOf(CancelledError);
  });

  it('ends with the execution error the socket reported when history has no entry for it', async () => {
    const server = new ScriptedServer();
    server.state = { kind: 'running' };
    const run = server.follower();
    await nextProgress(run);
    server.state = { kind: 'absent' };
    server.message('execution_error', {
      exception_type: 'torch.OutOfMemoryError',
      exception_message: 'CUDA out of memory',
      node_type: 'KSampler',
    });
    const error = await failure(run);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toBe(
      'the GPU ran out of memory, try a lower resolution or fewer frames',
    );
    expect(server.resubmits).toBe(0);
  });

  it('asks queue and history when the prompt goes quiet, and lets the answer decide', async () => {
    const server = new ScriptedServer();
    server.state = { kind: 'running' };
    // History is never polled on its timer here, and the socket is never reconnected.
    const run = server.follower({ silentCheckMs: 50 });
    expect(await nextProgress(run)).toMatchObject({ phase: 'running', detail: 'starting' });
    server.message('progress', { node: '2', value: 1, max: 4 });
    expect(await nextProgress(run)).toMatchObject({ detail: 'step 1/4' });
    const next = run.next();
    // Still running: followed on, asked again after the next quiet spell.
    await waitUntil(() => server.locates >= 3, 10_000, 'two reads while the prompt is quiet');
    server.state = { kind: 'done', item: finished() };
    expect((await next).value).toMatchObject({ type: 'progress', progress: { percent: 99 } });
    expect((await run.next()).value).toMatchObject({ type: 'completed' });
    expect(server.reconnects).toEqual([]);
    expect(server.resubmits).toBe(0);
  });

  it('reconnects a socket that stays silent while the prompt runs, and checks at once when it is back', async () => {
    const server = new ScriptedServer();
    server.state = { kind: 'running' };
    server.socket.lastMessageAt = 0;
    const run = server.follower({ socketIdleMs: 1_000 });
    expect(await nextProgress(run)).toMatchObject({ detail: 'starting' });
    const next = nextProgress(run);
    await waitUntil(() => server.reconnects.length > 0, 10_000, 'the reconnect');
    expect(server.reconnects).toEqual(['silent while a prompt runs']);
    server.state = { kind: 'done', item: finished() };
    server.socket.connected = true;
    server.send({ kind: 'open' });
    expect(await next).toMatchObject({ percent: 99, detail: 'rendered' });
  });
});
