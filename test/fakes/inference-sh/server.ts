import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { request } from 'undici';
import { FAKE_APPS, type FakeApp, RETIRED_APPS, validateInput } from './apps.js';

/**
 * A loopback inference.sh that answers as shared/specs/inference-sh-api.md says the real service
 * does (§17): the API on one origin, presigned uploads and output files on a second one.
 */

/** Current status numbering (§5). The fake keeps this internally and translates on the wire. */
const NAMES = [
  'unknown',
  'received',
  'queued',
  'dispatched',
  'preparing',
  'serving',
  'setting_up',
  'running',
  'cancelling',
  'uploading',
  'completed',
  'failed',
  'cancelled',
] as const;
const TERMINAL = new Set([10, 11, 12]);
/** Current code → old code (before `cancelling` was inserted). Old servers had no `cancelling`. */
const TO_OLD: Record<number, number> = { 9: 8, 10: 9, 11: 10, 12: 11 };

export type Route =
  | 'run'
  | 'task'
  | 'status'
  | 'stream'
  | 'cancel'
  | 'files'
  | 'apps'
  | 'logs'
  | 'upload'
  | 'output'
  | 'any';

export interface Requirement {
  type: string;
  key: string;
  message: string;
  action?: string;
}

export interface FakeFaults {
  /** Success envelope of every JSON answer (§4). */
  envelope: 'current' | 'bare' | 'v1';
  /** Error body: RFC 9457 problem details or the v1 `{success:false,error}` shape. */
  errorShape: 'problem' | 'v1';
  /** File in `output`: a URL string or an object with `uri` (§10.3). */
  outputShape: 'string' | 'object';
  /** `status` as a number or its string form. */
  statusForm: 'number' | 'string';
  /** Old numbering: 8 uploading, 9 completed, 10 failed, 11 cancelled, no status_text. */
  numbering: 'current' | 'old';
  /** The next N stream connections drop the socket after the first update. */
  streamDrops: number;
  /** The next N stream connections send nothing at all, heartbeats included, and stay open. */
  streamSilences: number;
  /** The next N stream requests are accepted but never answered, not even with headers. */
  streamUnanswered: number;
  /** The next N stream connections end cleanly after their first line. */
  streamEarlyEnds: number;
  /**
   * The next N stream connections send their first line and then only heartbeats, never an update
   * nor the terminal line, and stay open: a stream that looks alive but is stuck.
   */
  streamMutes: number;
  /** The next `count` calls to `route` answer 429 with rate-limit headers. */
  rateLimit: { count: number; route?: Route; retryAfterSec?: number } | undefined;
  /** The next `count` calls to `route` answer 5xx. With `route: 'run'` and `createTask`, the task exists anyway. */
  serverErrors: { count: number; route?: Route; status?: number; createTask?: boolean } | undefined;
  /** `POST /apps/run` creates the task, then drops the connection without answering. */
  runReset: boolean;
  /**
   * `POST /apps/run` creates the task, then answers 200 with a body that cannot be read: an HTML
   * page from a proxy, or a v1 body-level error (`{"success":false,…}`).
   */
  runGarbled: 'html' | 'v1-error' | undefined;
  /** `POST /apps/run` creates the task but holds its answer until resume(). */
  holdRuns: boolean;
  /** Tasks fail after running, with this error text. */
  failTask: string | undefined;
  /** `POST /apps/run` answers 412 with these requirement errors. */
  requirements: Requirement[] | undefined;
  /** Milliseconds a cancel stays in `cancelling` before `cancelled` (default: one step). */
  cancelDelayMs: number | undefined;
  /** Uploads answer 200 but keep nothing, so the worker cannot fetch the input (the task fails). */
  loseUploads: boolean;
  /** An extra required input field (schema drift): runs without it answer 400. */
  extraRequired: string | undefined;
  /** Progression stops before leaving this (current) status until resume(). */
  pauseAt: number | undefined;
  /** Output files are sent chunked, without Content-Length. */
  outputChunked: boolean;
}

export interface FakeInferenceOptions {
  /** The valid API key. Default `inf_fake_0123456789abcdef`. */
  apiKey?: string;
  /** Delay between status steps. Default 5 ms. */
  stepDelayMs?: number;
  /** Heartbeat interval on streams (10 s in production). Default 25 ms. */
  heartbeatMs?: number;
  /** The bytes served as the result video. */
  video?: Buffer;
  /** Apps the fake knows; default the four of wan-apps.md, less the retired ones (RETIRED_APPS). */
  apps?: string[];
  /**
   * Keep running the retired apps as their last published schema says (whether the service still
   * does is unconfirmed, wan-apps.md §18.1): for tests of the Wan 2.1 adapter itself.
   */
  retiredAppsRun?: boolean;
  /** API calls allowed per minute before 429 (X-RateLimit-*). Default unlimited. */
  ratePerMinute?: number;
  faults?: Partial<FakeFaults>;
}

export interface RecordedRequest {
  origin: 'api' | 'storage';
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TaskLog {
  id: string;
  task_id: string;
  log_type: number;
  content: string;
  created_at: string;
  updated_at: string;
}

interface FakeTask {
  id: string;
  app: string;
  appRef: string;
  input: Record<string, unknown>;
  webhook?: string;
  status: number;
  output: Record<string, unknown> | null;
  error: string | null;
  events: { id: string; task_id: string; status: number; event_time: string; created_at: string }[];
  logs: TaskLog[];
  created_at: string;
  updated_at: string;
  /** Index into the plan of the next step. */
  next: number;
  timer?: NodeJS.Timeout;
  paused: boolean;
  listeners: Set<(line: Record<string, unknown>, terminal: boolean) => void>;
}

/** `log_type` of task logs (npm-sdk `dist/types.js`): 0 build, 1 run, 2 serve, 3 setup, 4 task. */
const LOG_SETUP = 3;
const LOG_TASK = 4;

type Step =
  | { kind: 'status'; status: number }
  | { kind: 'log'; logType: number; content: (steps: number) => string };
const PLAN: Step[] = [
  { kind: 'status', status: 2 },
  { kind: 'status', status: 3 },
  { kind: 'status', status: 4 },
  { kind: 'status', status: 5 },
  { kind: 'status', status: 6 },
  // A setup counter that is not a sampler step (the backend must not read it as progress).
  {
    kind: 'log',
    logType: LOG_SETUP,
    content: () => 'Loading checkpoint shards: 100%|##########| 3/3 [00:02<00:00]',
  },
  { kind: 'status', status: 7 },
  { kind: 'log', logType: LOG_TASK, content: () => 'Starting video generation...' },
  { kind: 'log', logType: LOG_TASK, content: (steps) => `denoising 2/${steps}` },
  { kind: 'status', status: 9 },
  { kind: 'status', status: 10 },
];

const DEFAULT_FAULTS: FakeFaults = {
  envelope: 'current',
  errorShape: 'problem',
  outputShape: 'string',
  statusForm: 'number',
  numbering: 'current',
  streamDrops: 0,
  streamSilences: 0,
  streamUnanswered: 0,
  streamEarlyEnds: 0,
  streamMutes: 0,
  rateLimit: undefined,
  serverErrors: undefined,
  runReset: false,
  runGarbled: undefined,
  holdRuns: false,
  failTask: undefined,
  requirements: undefined,
  cancelDelayMs: undefined,
  loseUploads: false,
  extraRequired: undefined,
  pauseAt: undefined,
  outputChunked: false,
};

const id = (bytes = 13) =>
  randomBytes(bytes)
    .toString('hex')
    .slice(0, bytes * 2);
const now = () => new Date().toISOString();

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export interface FakeInference {
  apiUrl: string;
  storageOrigin: string;
  /** `host:port` of the storage origin, for the backend's outputHosts. */
  storageHost: string;
  apiKey: string;
  video: Buffer;
  tasksCreated(): number;
  /** Bodies of every `POST /apps/run` the fake received (also refused ones). */
  runRequests(): { app: string; input: Record<string, unknown> }[];
  requests(): RecordedRequest[];
  /** The task as `GET /tasks/{id}` would show it (current numbering, no envelope). */
  task(taskId: string): Record<string, unknown> | undefined;
  taskIds(): string[];
  uploads(): Map<string, Buffer>;
  setFault(faults: Partial<FakeFaults>): void;
  /** Replaces the apps the fake knows: an app is retired or comes back. */
  setApps(apps: string[]): void;
  /** Lets paused tasks continue, and sends run answers held by `holdRuns`. */
  resume(): void;
  /** Webhook deliveries received by anyone is not tracked; this lists what the fake sent. */
  webhooksSent(): { url: string; body: unknown }[];
  close(): Promise<void>;
}

export async function startFakeInference(options: FakeInferenceOptions = {}): Promise<FakeInference> {
  const apiKey = options.apiKey ?? 'inf_fake_0123456789abcdef';
  const stepDelayMs = options.stepDelayMs ?? 5;
  const heartbeatMs = options.heartbeatMs ?? 25;
  const video = options.video ?? Buffer.from('\x00\x00\x00\x18ftypmp42fake-mp4-bytes', 'latin1');
  const knownApps = new Set(
    options.apps ??
      Object.keys(FAKE_APPS).filter((app) => options.retiredAppsRun || !RETIRED_APPS.includes(app)),
  );
  let faults: FakeFaults = { ...DEFAULT_FAULTS, ...options.faults };

  const tasks = new Map<string, FakeTask>();
  const files = new Map<
    string,
    { id: string; filename: string; content_type: string; size: number; uri: string }
  >();
  const stored = new Map<string, Buffer>();
  const recorded: RecordedRequest[] = [];
  const runs: { app: string; input: Record<string, unknown> }[] = [];
  const webhooks: { url: string; body: unknown }[] = [];
  const sockets = new Set<Socket>();
  const intervals = new Set<NodeJS.Timeout>();
  /** Run answers held by `holdRuns`, sent on resume(). */
  const heldRuns: (() => void)[] = [];
  let created = 0;
  let windowStart = Date.now();
  let windowCount = 0;
  let closed = false;

  const api = createServer((req, res) => {
    handleApi(req, res).catch((error: unknown) => {
      if (!res.headersSent) problem(res, 500, 'internal_error', 'Internal Server Error', String(error));
      else res.destroy();
    });
  });
  const storage = createServer((req, res) => {
    handleStorage(req, res).catch(() => res.destroy());
  });
  for (const server of [api, storage]) {
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  }
  const apiPort = await listen(api);
  const storagePort = await listen(storage);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const storageOrigin = `http://127.0.0.1:${storagePort}`;

  // ---- wire shapes -------------------------------------------------------------------------

  const wireStatus = (status: number): number | string => {
    if (faults.statusForm === 'string') return NAMES[status] ?? 'unknown';
    return faults.numbering === 'old' ? (TO_OLD[status] ?? status) : status;
  };

  const wireOutput = (task: FakeTask) => {
    if (!task.output) return null;
    const app = FAKE_APPS[task.app]!;
    const uri = `${storageOrigin}/outputs/${task.id}/clip.mp4`;
    const file =
      faults.outputShape === 'object'
        ? {
            uri,
            content_type: 'video/mp4',
            size: video.length,
            filename: 'clip.mp4',
            path: '/var/lib/app/out/clip.mp4',
          }
        : uri;
    return {
      [app.outputField]: file,
      ...(task.app.startsWith('infsh/lightning') ? { output_meta: null } : {}),
    };
  };

  const fullTask = (task: FakeTask) => ({
    id: task.id,
    short_id: task.id.slice(0, 8),
    status: wireStatus(task.status),
    app_id: `a_${task.app.replace(/\W/g, '')}`,
    app_version_id: 'v_1',
    app_variant: 'default',
    infra: 'cloud',
    worker_id: task.status >= 3 ? 'w_fake' : null,
    input: task.input,
    output: wireOutput(task),
    error: task.error,
    webhook: task.webhook ?? null,
    events: task.events.map((e) => ({ ...e, status: wireStatus(e.status) })),
    logs: task.logs,
    created_at: task.created_at,
    updated_at: task.updated_at,
  });

  /** The slim task result of `POST /apps/run` (§3.2), which also carries `status_text`. */
  const taskResult = (task: FakeTask) => ({
    id: task.id,
    short_id: task.id.slice(0, 8),
    status: wireStatus(task.status),
    ...(faults.numbering === 'old' ? {} : { status_text: NAMES[task.status] }),
    output: wireOutput(task),
    ...(task.error ? { error: task.error } : {}),
    created_at: task.created_at,
    updated_at: task.updated_at,
  });

  const send = (
    res: ServerResponse,
    status: number,
    payload: unknown,
    headers: Record<string, string> = {},
  ) => {
    const body =
      faults.envelope === 'bare'
        ? payload
        : faults.envelope === 'v1'
          ? { success: true, status, data: payload }
          : { data: payload, messages: [] };
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  const problem = (
    res: ServerResponse,
    status: number,
    code: string,
    title: string,
    detail: string,
    headers: Record<string, string> = {},
  ) => {
    const v1 = faults.errorShape === 'v1';
    const text = JSON.stringify(
      v1
        ? { success: false, status, error: { code, message: detail } }
        : { type: `https://api.inference.sh/errors/${code}`, title, status, detail },
    );
    res.writeHead(status, {
      'content-type': v1 ? 'application/json' : 'application/problem+json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  // ---- task progression --------------------------------------------------------------------

  const emit = (task: FakeTask, line: Record<string, unknown>, terminal = false) => {
    for (const listener of [...task.listeners]) listener(line, terminal);
  };

  const setStatus = (task: FakeTask, status: number, extra: { error?: string } = {}) => {
    // Old servers had no `cancelling` state.
    if (status === 8 && faults.numbering === 'old') return;
    task.status = status;
    task.updated_at = now();
    if (extra.error) task.error = extra.error;
    if (status === 10) task.output = { ready: true };
    task.events.push({
      id: `ev_${id(4)}`,
      task_id: task.id,
      status,
      event_time: task.updated_at,
      created_at: task.updated_at,
    });
    const terminal = TERMINAL.has(status);
    const payload: Record<string, unknown> = { status: wireStatus(status) };
    const fields = ['status'];
    if (status === 10) {
      payload.output = wireOutput(task);
      fields.push('output');
    }
    if (status === 11) {
      payload.error = task.error;
      fields.push('error');
    }
    emit(task, { payload, fields }, terminal);
    if (terminal) {
      clearTimeout(task.timer);
      deliverWebhook(task);
    }
  };

  const deliverWebhook = (task: FakeTask) => {
    if (!task.webhook) return;
    const body = { event: `task.${NAMES[task.status]}`, task: fullTask(task) };
    webhooks.push({ url: task.webhook, body });
    request(task.webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
      .then((res) => res.body.dump())
      .catch(() => {});
  };

  const uriOf = (value: unknown): string | undefined =>
    typeof value === 'string'
      ? value
      : value && typeof value === 'object' && typeof (value as { uri?: unknown }).uri === 'string'
        ? (value as { uri: string }).uri
        : undefined;

  /** What a worker would hit fetching the inputs: only files this fake stores can be downloaded. */
  const unfetchable = (task: FakeTask): string | undefined => {
    const app = FAKE_APPS[task.app]!;
    for (const field of app.fileFields) {
      const value = task.input[field];
      if (value === undefined || value === null) continue;
      const uri = uriOf(value);
      const fileId = uri?.startsWith(`${storageOrigin}/files/`) ? uri.split('/')[4] : undefined;
      if (!uri || !fileId || !stored.has(fileId)) {
        return `failed to download input "${field}" from ${uri ?? JSON.stringify(value)}: 404 Client Error: Not Found`;
      }
    }
    return undefined;
  };

  /** The sampler steps a task runs: its input, else the app's default. */
  const stepsOf = (task: FakeTask): number => {
    const given = Number(task.input.num_inference_steps);
    if (Number.isInteger(given) && given > 0) return given;
    const fallback = Number(FAKE_APPS[task.app]?.input_schema.properties.num_inference_steps?.default);
    return Number.isInteger(fallback) && fallback > 0 ? fallback : 4;
  };

  const advance = (task: FakeTask) => {
    task.timer = undefined;
    if (closed || TERMINAL.has(task.status) || task.status === 8) return;
    const step = PLAN[task.next];
    if (!step) return;
    if (faults.pauseAt !== undefined && task.status === faults.pauseAt && step.kind === 'status') {
      task.paused = true;
      return;
    }
    task.next += 1;
    if (step.kind === 'status' && step.status === 4) {
      const problemText = unfetchable(task);
      if (problemText) {
        setStatus(task, 11, { error: problemText });
        return;
      }
    }
    if (step.kind === 'status' && step.status === 9 && faults.failTask) {
      setStatus(task, 11, { error: faults.failTask });
      return;
    }
    if (step.kind === 'log') {
      const at = now();
      task.logs.push({
        id: `lg_${id(4)}`,
        task_id: task.id,
        log_type: step.logType,
        content: step.content(stepsOf(task)),
        created_at: at,
        updated_at: at,
      });
      task.updated_at = at;
      emit(task, { payload: { logs: task.logs }, fields: ['logs'] });
    } else {
      setStatus(task, step.status);
    }
    if (!TERMINAL.has(task.status)) task.timer = setTimeout(() => advance(task), stepDelayMs);
  };

  const createTask = (app: string, appRef: string, input: Record<string, unknown>, webhook?: string) => {
    const at = now();
    const task: FakeTask = {
      id: id(13),
      app,
      appRef,
      input,
      ...(webhook ? { webhook } : {}),
      status: 1,
      output: null,
      error: null,
      events: [{ id: `ev_${id(4)}`, task_id: '', status: 1, event_time: at, created_at: at }],
      logs: [],
      created_at: at,
      updated_at: at,
      next: 0,
      paused: false,
      listeners: new Set(),
    };
    task.events[0]!.task_id = task.id;
    tasks.set(task.id, task);
    created += 1;
    task.timer = setTimeout(() => advance(task), stepDelayMs);
    return task;
  };

  const cancelTask = (task: FakeTask) => {
    clearTimeout(task.timer);
    if (faults.numbering === 'old') {
      setStatus(task, 12);
      return;
    }
    setStatus(task, 8);
    task.timer = setTimeout(() => setStatus(task, 12), faults.cancelDelayMs ?? stepDelayMs);
  };

  // ---- faults shared by routes -------------------------------------------------------------

  const matchesRoute = (wanted: Route | undefined, route: Route) =>
    !wanted || wanted === 'any' || wanted === route;

  /** Answers 429/5xx when a fault or the per-minute budget says so; true when it answered. */
  const injected = (res: ServerResponse, route: Route): { createTask?: boolean } | true | undefined => {
    const rate = faults.rateLimit;
    const resetSec = Math.ceil(Date.now() / 1000);
    if (rate && rate.count > 0 && matchesRoute(rate.route, route)) {
      rate.count -= 1;
      problem(res, 429, 'rate_limited', 'Too Many Requests', 'rate limit exceeded', {
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(resetSec),
        ...(rate.retryAfterSec !== undefined ? { 'retry-after': String(rate.retryAfterSec) } : {}),
      });
      return true;
    }
    if (options.ratePerMinute !== undefined && route !== 'upload' && route !== 'output') {
      if (Date.now() - windowStart >= 60_000) {
        windowStart = Date.now();
        windowCount = 0;
      }
      windowCount += 1;
      res.setHeader('x-ratelimit-remaining', String(Math.max(0, options.ratePerMinute - windowCount)));
      res.setHeader('x-ratelimit-reset', String(Math.ceil((windowStart + 60_000) / 1000)));
      if (windowCount > options.ratePerMinute) {
        problem(res, 429, 'rate_limited', 'Too Many Requests', 'rate limit exceeded');
        return true;
      }
    }
    const errors = faults.serverErrors;
    if (errors && errors.count > 0 && matchesRoute(errors.route, route)) {
      errors.count -= 1;
      if (route === 'run' && errors.createTask) return { createTask: true };
      problem(res, errors.status ?? 503, 'internal_error', 'Service Unavailable', 'upstream unavailable');
      return true;
    }
    return undefined;
  };

  // ---- API ---------------------------------------------------------------------------------

  async function handleApi(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', apiUrl);
    const path = url.pathname.replace(/^\/v1(?=\/)/, '');
    const body = await readBody(req);
    recorded.push({
      origin: 'api',
      method: req.method ?? '',
      path,
      headers: req.headers,
      body: body.toString('utf8'),
    });

    // Rejected before any handler runs (sdk-swift `send`): nothing is created on a 401.
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Bearer ')) {
      problem(res, 401, 'unauthorized', 'Unauthorized', 'missing API key: send Authorization: Bearer <key>');
      return;
    }
    if (auth.slice('Bearer '.length) !== apiKey) {
      problem(res, 401, 'unauthorized', 'Unauthorized', 'invalid API key');
      return;
    }

    const json = (): Record<string, unknown> | undefined => {
      try {
        const parsed = JSON.parse(body.toString('utf8') || 'null');
        return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : undefined;
      } catch {
        return undefined;
      }
    };

    if (req.method === 'POST' && path === '/apps/run') return run(res, json());
    if (req.method === 'POST' && path === '/files') return createFiles(res, json());
    let match = /^\/files\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && match) {
      if (injected(res, 'files')) return;
      const record = files.get(match[1]!);
      if (!record) return problem(res, 404, 'not_found', 'Not Found', `file ${match[1]} not found`);
      return send(res, 200, { ...record, short_id: record.id.slice(0, 6) });
    }
    match = /^\/apps\/([^/]+)\/([^/@]+)$/.exec(path);
    if (req.method === 'GET' && match) {
      if (injected(res, 'apps')) return;
      const ref = `${match[1]}/${match[2]}`;
      const app = FAKE_APPS[ref];
      if (!app || !knownApps.has(ref))
        return problem(res, 404, 'not_found', 'Not Found', `app ${ref} not found`);
      const schema = structuredClone(app.input_schema);
      if (faults.extraRequired) {
        schema.required.push(faults.extraRequired);
        schema.properties[faults.extraRequired] = { type: 'string' };
      }
      return send(res, 200, {
        id: `a_${app.name}`,
        namespace: app.namespace,
        name: app.name,
        category: 'video',
        version: { id: 'v_1', input_schema: schema, output_schema: app.output_schema },
      });
    }
    match = /^\/tasks\/([^/]+)(?:\/(status|stream|cancel|logs))?$/.exec(path);
    if (match) {
      const sub = (match[2] ?? 'task') as 'task' | 'status' | 'stream' | 'cancel' | 'logs';
      if (injected(res, sub)) return;
      const task = tasks.get(match[1]!);
      if (!task) return problem(res, 404, 'not_found', 'Not Found', `task ${match[1]} not found`);
      if (req.method === 'GET' && sub === 'task') return send(res, 200, fullTask(task));
      if (req.method === 'GET' && sub === 'status') {
        return send(res, 200, { id: task.id, status: wireStatus(task.status), updated_at: task.updated_at });
      }
      if (req.method === 'GET' && sub === 'logs') {
        return send(res, 200, {
          task_id: task.id,
          status: wireStatus(task.status),
          events: fullTask(task).events,
          logs: task.logs,
        });
      }
      if (req.method === 'GET' && sub === 'stream') return stream(req, res, task);
      if (req.method === 'POST' && sub === 'cancel') {
        if (TERMINAL.has(task.status)) {
          return problem(res, 400, 'invalid_request', 'Bad Request', `task ${task.id} has already finished`);
        }
        if (task.status !== 8) cancelTask(task);
        return send(res, 200, { id: task.id, status: wireStatus(task.status), cancelled: true });
      }
    }
    problem(res, 404, 'not_found', 'Not Found', `no route for ${req.method} ${path}`);
  }

  function run(res: ServerResponse, body: Record<string, unknown> | undefined) {
    if (body) runs.push({ app: String(body.app), input: (body.input ?? {}) as Record<string, unknown> });
    const injectedFault = injected(res, 'run');
    if (injectedFault === true) return;
    if (!body || typeof body.app !== 'string' || !body.input || typeof body.input !== 'object') {
      return problem(res, 400, 'invalid_request', 'Bad Request', 'app and input are required');
    }
    if (faults.requirements) {
      const text = JSON.stringify({ satisfied: false, errors: faults.requirements });
      res.writeHead(412, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const appRef = body.app;
    const app = appRef.split('@')[0]!;
    const definition: FakeApp | undefined = knownApps.has(app) ? FAKE_APPS[app] : undefined;
    if (!definition) return problem(res, 404, 'not_found', 'Not Found', `app ${app} not found`);
    const input = body.input as Record<string, unknown>;
    const problems = validateInput(definition, input, faults.extraRequired ? [faults.extraRequired] : []);
    if (problems.length > 0) return problem(res, 400, 'invalid_request', 'Bad Request', problems.join('; '));
    const task = createTask(app, appRef, input, typeof body.webhook === 'string' ? body.webhook : undefined);
    if (injectedFault?.createTask) {
      problem(res, 500, 'internal_error', 'Internal Server Error', 'unexpected error');
      return;
    }
    if (faults.runReset) {
      res.socket?.destroy();
      return;
    }
    if (faults.runGarbled) {
      const html = faults.runGarbled === 'html';
      const text = html
        ? '<html><body><h1>200 OK</h1><p>upstream answered</p></body></html>'
        : JSON.stringify({
            success: false,
            status: 500,
            error: { code: 'internal_error', message: 'failed to serialise the task' },
          });
      res.writeHead(200, {
        'content-type': html ? 'text/html' : 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    const result = taskResult(task);
    const text = JSON.stringify(
      faults.envelope === 'bare'
        ? result
        : faults.envelope === 'v1'
          ? { success: true, status: 200, data: result }
          : { data: result, messages: [{ level: 'info', code: 'task_created', message: 'task received' }] },
    );
    const answer = () => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (faults.holdRuns) heldRuns.push(answer);
    else answer();
  }

  function createFiles(res: ServerResponse, body: Record<string, unknown> | undefined) {
    if (injected(res, 'files')) return;
    const list = body && Array.isArray(body.files) ? (body.files as Record<string, unknown>[]) : undefined;
    if (!list || list.length === 0)
      return problem(res, 400, 'invalid_request', 'Bad Request', 'files is required');
    const records = list.map((file) => {
      const fileId = `f_${id(6)}`;
      const filename = typeof file.filename === 'string' && file.filename ? file.filename : 'upload.bin';
      const record = {
        id: fileId,
        filename,
        content_type: typeof file.content_type === 'string' ? file.content_type : 'application/octet-stream',
        size: typeof file.size === 'number' ? file.size : 0,
        uri: `${storageOrigin}/files/${fileId}/${encodeURIComponent(filename)}`,
      };
      files.set(fileId, record);
      const at = now();
      return {
        ...record,
        short_id: fileId.slice(0, 6),
        upload_url: `${storageOrigin}/upload/${fileId}?X-Amz-Expires=900&X-Amz-Signature=${id(16)}`,
        created_at: at,
        updated_at: at,
      };
    });
    send(res, 200, records);
  }

  function stream(req: IncomingMessage, res: ServerResponse, task: FakeTask) {
    if (!String(req.headers.accept ?? '').includes('application/x-ndjson')) {
      return problem(
        res,
        406,
        'not_acceptable',
        'Not Acceptable',
        'this fake serves the stream as application/x-ndjson only',
      );
    }
    if (faults.streamUnanswered > 0) {
      faults.streamUnanswered -= 1;
      return; // no status line, no headers: the socket stays open until the client gives up
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    res.flushHeaders();
    if (faults.streamSilences > 0) {
      faults.streamSilences -= 1;
      return; // open, and never a byte: not even heartbeats
    }
    const dropAfterFirstUpdate = faults.streamDrops > 0;
    if (dropAfterFirstUpdate) faults.streamDrops -= 1;
    const endEarly = faults.streamEarlyEnds > 0;
    if (endEarly) faults.streamEarlyEnds -= 1;
    const mute = !endEarly && faults.streamMutes > 0;
    if (mute) faults.streamMutes -= 1;

    let counter = 0;
    const write = (line: unknown) => res.write(`${JSON.stringify(line)}\n`);
    const heartbeat = setInterval(() => write({ type: 'heartbeat' }), heartbeatMs);
    intervals.add(heartbeat);
    const stop = () => {
      clearInterval(heartbeat);
      intervals.delete(heartbeat);
      task.listeners.delete(listener);
    };
    res.on('close', stop);

    // First line: the whole task, bare, split across two writes to exercise line buffering.
    const first = JSON.stringify(fullTask(task));
    const cut = Math.floor(first.length / 2);
    res.write(first.slice(0, cut));
    setImmediate(() => {
      if (res.destroyed) return;
      res.write(`${first.slice(cut)}\n\n`);
      // A typed event (token streaming of text apps) that a video client must ignore.
      write({ event: 'delta', data: { delta: { text: '…' }, seq: 1 } });
      if (TERMINAL.has(task.status) || endEarly) {
        stop();
        res.end();
      }
    });

    function listener(line: Record<string, unknown>, terminal: boolean) {
      const payload = line.payload as Record<string, unknown>;
      const fields = line.fields as string[];
      // Rotate through the three line shapes of §6: bare fields, {data}, {data, fields}.
      const form = counter % 3;
      counter += 1;
      if (form === 0) write({ id: task.id, ...payload });
      else if (form === 1) write({ data: { id: task.id, ...payload } });
      else write({ data: payload, fields });
      if (dropAfterFirstUpdate) {
        stop();
        res.socket?.destroy();
        return;
      }
      if (terminal) {
        stop();
        res.end();
      }
    }
    if (!TERMINAL.has(task.status) && !endEarly && !mute) task.listeners.add(listener);
  }

  // ---- storage origin ----------------------------------------------------------------------

  async function handleStorage(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', storageOrigin);
    const body = await readBody(req);
    recorded.push({
      origin: 'storage',
      method: req.method ?? '',
      path: url.pathname,
      headers: req.headers,
      body: '',
    });
    const plain = (status: number, text: string) => {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(text);
    };
    let match = /^\/upload\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'PUT' && match) {
      if (injected(res, 'upload')) return;
      const record = files.get(match[1]!);
      if (!record || !url.searchParams.get('X-Amz-Signature')) {
        return plain(403, '<Error><Code>SignatureDoesNotMatch</Code></Error>');
      }
      if (req.headers.authorization) {
        return plain(
          400,
          '<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>',
        );
      }
      if (req.headers['content-length'] === undefined || req.headers['transfer-encoding']) {
        return plain(411, '<Error><Code>MissingContentLength</Code></Error>');
      }
      if (!faults.loseUploads) stored.set(record.id, body);
      res.writeHead(200, { etag: `"${id(8)}"` });
      res.end();
      return;
    }
    match = /^\/files\/([^/]+)\/[^/]+$/.exec(url.pathname);
    if (req.method === 'GET' && match) {
      const bytes = stored.get(match[1]!);
      if (!bytes) return plain(404, '<Error><Code>NoSuchKey</Code></Error>');
      res.writeHead(200, {
        'content-type': files.get(match[1]!)?.content_type ?? 'application/octet-stream',
      });
      res.end(bytes);
      return;
    }
    // `/redirect?to=<url>`: a 302 to any URL (the result host moving a file to a CDN, or elsewhere).
    if (req.method === 'GET' && url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/', 'content-length': 0 });
      res.end();
      return;
    }
    match = /^\/outputs\/([^/]+)\/clip\.mp4$/.exec(url.pathname);
    if (req.method === 'GET' && match) {
      if (injected(res, 'output')) return;
      const task = tasks.get(match[1]!);
      if (!task?.output) return plain(404, '<Error><Code>NoSuchKey</Code></Error>');
      if (faults.outputChunked) {
        res.writeHead(200, { 'content-type': 'video/mp4' });
        const half = Math.ceil(video.length / 2);
        res.write(video.subarray(0, half));
        setImmediate(() => res.end(video.subarray(half)));
        return;
      }
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': video.length });
      res.end(video);
      return;
    }
    plain(404, '<Error><Code>NoSuchKey</Code></Error>');
  }

  return {
    apiUrl,
    storageOrigin,
    storageHost: `127.0.0.1:${storagePort}`,
    apiKey,
    video,
    tasksCreated: () => created,
    runRequests: () => runs,
    requests: () => recorded,
    task: (taskId) => {
      const task = tasks.get(taskId);
      return task ? fullTask(task) : undefined;
    },
    taskIds: () => [...tasks.keys()],
    uploads: () => stored,
    setFault: (partial) => {
      faults = { ...faults, ...partial };
    },
    setApps: (apps) => {
      knownApps.clear();
      for (const app of apps) knownApps.add(app);
    },
    resume: () => {
      faults.holdRuns = false;
      for (const answer of heldRuns.splice(0)) answer();
      faults.pauseAt = undefined;
      for (const task of tasks.values()) {
        if (task.paused) {
          task.paused = false;
          advance(task);
        }
      }
    },
    webhooksSent: () => webhooks,
    close: async () => {
      closed = true;
      for (const task of tasks.values()) clearTimeout(task.timer);
      for (const interval of intervals) clearInterval(interval);
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => api.close(() => resolve())),
        new Promise<void>((resolve) => storage.close(() => resolve())),
      ]);
    },
  };
}
