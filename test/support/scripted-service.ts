import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny remote "render service" for pipeline tests. It lives in the test process, so worker
 * processes that crash and restart all see the same tasks, and the test can count submissions.
 */

export interface ScriptedTask {
  id: string;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  step: number;
  steps: number;
  held: boolean;
  error?: string;
  cancelRequests: number;
  /** What the backend sent: the prompt, and the end frame it read from storage, if any. */
  input?: { prompt?: string; endFrame?: { width: number; height: number; bytes: number } };
}

export interface ScriptedServiceOptions {
  steps?: number;
  stepMs?: number;
  video: Buffer;
}

export interface ScriptedService {
  url: string;
  submissions(): number;
  tasks(): ScriptedTask[];
  /** New tasks stop before their first step until released. */
  holdNewTasks(hold: boolean): void;
  release(id?: string): void;
  /** The next N submissions answer 503 before creating anything. */
  failNextSubmissions(count: number, status?: number, error?: string): void;
  /** New tasks end in `failed` with this text. */
  failTasksWith(error: string | undefined): void;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

export async function startScriptedService(options: ScriptedServiceOptions): Promise<ScriptedService> {
  const steps = options.steps ?? 4;
  const stepMs = options.stepMs ?? 40;
  const tasks = new Map<string, ScriptedTask>();
  let hold = false;
  let failSubmissions = { count: 0, status: 503, error: 'busy' };
  let taskError: string | undefined;
  let created = 0;

  const advance = (task: ScriptedTask) => {
    const tick = () => {
      if (task.status === 'cancelled' || task.status === 'failed' || task.status === 'completed') return;
      if (task.held) return void setTimeout(tick, stepMs);
      task.status = 'running';
      task.step += 1;
      if (taskError && task.step >= Math.ceil(steps / 2)) {
        task.status = 'failed';
        task.error = taskError;
        return;
      }
      if (task.step >= task.steps) task.status = 'completed';
      else setTimeout(tick, stepMs);
    };
    setTimeout(tick, stepMs);
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'POST' && url.pathname === '/tasks') {
      const sent = await body(req);
      if (failSubmissions.count > 0) {
        failSubmissions.count -= 1;
        return send(failSubmissions.status, { error: failSubmissions.error });
      }
      created += 1;
      const task: ScriptedTask = {
        id: `task-${created}`,
        status: 'queued',
        step: 0,
        steps,
        held: hold,
        cancelRequests: 0,
        input: (() => {
          try {
            return JSON.parse(sent) as ScriptedTask['input'];
          } catch {
            return undefined;
          }
        })(),
      };
      tasks.set(task.id, task);
      advance(task);
      return send(200, { id: task.id });
    }
    const task = parts[0] === 'tasks' && parts[1] ? tasks.get(parts[1]) : undefined;
    if (parts[0] === 'tasks' && !task) return send(404, { error: 'no such task' });
    if (req.method === 'GET' && task && parts.length === 2) return send(200, task);
    if (req.method === 'POST' && task && parts[2] === 'cancel') {
      task.cancelRequests += 1;
      if (task.status === 'queued' || task.status === 'running') task.status = 'cancelled';
      return send(200, task);
    }
    if (req.method === 'GET' && parts[0] === 'video') {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': options.video.length });
      return void res.end(options.video);
    }
    send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    submissions: () => created,
    tasks: () => [...tasks.values()],
    holdNewTasks: (value) => {
      hold = value;
    },
    release: (id) => {
      for (const task of tasks.values()) if (!id || task.id === id) task.held = false;
    },
    failNextSubmissions: (count, status = 503, error = 'busy') => {
      failSubmissions = { count, status, error };
    },
    failTasksWith: (error) => {
      taskError = error;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
