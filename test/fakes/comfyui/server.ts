import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { relative } from 'node:path';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A protocol-faithful fake ComfyUI server (shared/specs/comfyui-api.md §11): real HTTP on
 * 127.0.0.1, routes at `/` and `/api/`, a `ws` WebSocket that addresses a prompt's events only to
 * the client id it was submitted with, in the §6.4 order, and scenarios for the failure modes the
 * backend must survive. Queue and history live in memory and vanish on stop/restart, like the real
 * server; uploads and outputs are "on disk" and survive.
 */

export type FakeScenario =
  /** Runs to the end. */
  | 'success'
  /** `execution_error` in the sampler at `triggerAtStep`, with a traceback. */
  | 'execution_error'
  /** Like `execution_error`, with `torch.OutOfMemoryError`. */
  | 'oom'
  /** The run is interrupted at `triggerAtStep` (as if an operator pressed cancel). */
  | 'interrupt'
  /** One-shot: at `triggerAtStep` every socket is dropped and upgrades fail for `dropSocketForMs`; the run goes on. */
  | 'drop_socket'
  /** Every node comes from cache: `execution_cached` lists them all, `executed` is re-sent. */
  | 'cached'
  /** One-shot: at `triggerAtStep` the server restarts (queue and history lost), down for `restartDownMs`. */
  | 'restart'
  /**
   * One-shot: at `triggerAtStep` every open socket goes half-open: it stays open but gets nothing
   * more (like a GPU host crash the client's TCP never noticed). New sockets work; the run goes on.
   */
  | 'mute_socket'
  /** Success, with the output in the VHS_VideoCombine `gifs` shape. */
  | 'gifs';

export interface FakeComfyOptions {
  /** Bytes served for every output video. */
  video?: Buffer;
  scenario?: FakeScenario;
  /** Sampler steps; default the graph's `steps`. */
  steps?: number;
  stepDelayMs?: number;
  nodeDelayMs?: number;
  /** The sampler step at which a scenario fires. */
  triggerAtStep?: number;
  /** Blocks the sampler at this step until `/interrupt` or `release()`. */
  holdAtStep?: number;
  /** Sends a binary preview frame after the first sampler step. */
  preview?: boolean;
  /** Folder → file names for `GET /models/{folder}` and loader validation. */
  models?: Record<string, string[]>;
  /**
   * A real folder served as `models/loras`, like ComfyUI's own: its files (subfolders as
   * `sub/name`) are listed and accepted by `LoraLoaderModelOnly`, read at every request.
   */
  lorasDir?: string;
  /** Node classes the server does not know (`/object_info/{cls}` answers `{}`, `/prompt` refuses). */
  missingNodes?: string[];
  dropSocketForMs?: number;
  restartDownMs?: number;
  /** Gap between `execution_success` and the history entry (the real server has one too). */
  historyDelayMs?: number;
  /** No prompt starts while paused. */
  paused?: boolean;
  version?: string;
  /**
   * The next N `POST /prompt` calls are accepted (queued) but the connection is reset instead of
   * answering: the client cannot know whether the prompt exists (spec §8, ambiguous submit).
   */
  resetPromptResponses?: number;
  /** The next N `GET /queue` answer 500 (the server cannot say whether the prompt runs). */
  failQueueReads?: number;
}

export interface SubmittedPrompt {
  promptId: string;
  clientId: string | undefined;
  number: number;
  graph: Record<string, FakeNode>;
  at: number;
}

export interface FakeUpload {
  name: string;
  subfolder: string;
  type: string;
  bytes: Buffer;
}

export interface FakeRequestLog {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export interface FakeComfy {
  readonly url: string;
  readonly port: number;
  /** Every accepted `POST /prompt`, duplicates included, across restarts. */
  promptsSubmitted(): SubmittedPrompt[];
  uploads(): FakeUpload[];
  requests(): FakeRequestLog[];
  /** Scenario for the runs that start from now on. */
  setScenario(scenario: FakeScenario, options?: Partial<FakeComfyOptions>): void;
  configure(options: Partial<FakeComfyOptions>): void;
  pause(): void;
  resume(): void;
  /** Lets a run held at `holdAtStep` go on. */
  release(): void;
  queueIds(): { running: string | undefined; pending: string[] };
  historyIds(): string[];
  /** Connected WebSocket client ids. */
  clients(): string[];
  /** Loses queue and history (like a process restart); down for `downMs`, same port. */
  restart(downMs?: number): Promise<void>;
  /**
   * Loses queue and history like a restart, but leaves every socket open: what a client sees when
   * the GPU host crashed and came back while its socket stayed half-open.
   */
  forget(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface FakeNode {
  class_type?: string;
  inputs?: Record<string, unknown>;
}

type Graph = Record<string, FakeNode>;

interface Entry {
  number: number;
  promptId: string;
  graph: Graph;
  extraData: Record<string, unknown>;
  outputs: string[];
  clientId: string | undefined;
}

interface Running {
  entry: Entry;
  interrupted: boolean;
  released: boolean;
  node: string | undefined;
  wake: (() => void) | undefined;
}

const DEFAULT_MODELS: Record<string, string[]> = {
  diffusion_models: ['wan2.1_i2v_480p_14B_fp16.safetensors', 'wan2.1_flf2v_720p_14B_fp16.safetensors'],
  text_encoders: ['umt5_xxl_fp8_e4m3fn_scaled.safetensors'],
  vae: ['wan_2.1_vae.safetensors'],
  clip_vision: ['clip_vision_h.safetensors'],
  loras: [],
  checkpoints: [],
};

const KNOWN_NODES = [
  'UNETLoader',
  'CLIPLoader',
  'VAELoader',
  'CLIPVisionLoader',
  'LoadImage',
  'CLIPVisionEncode',
  'CLIPTextEncode',
  'WanImageToVideo',
  'WanFirstLastFrameToVideo',
  'ModelSamplingSD3',
  'KSampler',
  'KSamplerAdvanced',
  'VAEDecode',
  'VAEDecodeTiled',
  'ImageScaleBy',
  'CFGZeroStar',
  'CreateVideo',
  'SaveVideo',
  'SaveWEBM',
  'SaveAnimatedWEBP',
  'VHS_VideoCombine',
  'LoraLoaderModelOnly',
  'EasyCache',
];

/** Inputs that name a weights file, and the folder it must be in. */
const MODEL_INPUTS: Record<string, [string, string]> = {
  UNETLoader: ['unet_name', 'diffusion_models'],
  CLIPLoader: ['clip_name', 'text_encoders'],
  VAELoader: ['vae_name', 'vae'],
  CLIPVisionLoader: ['clip_name', 'clip_vision'],
  LoraLoaderModelOnly: ['lora_name', 'loras'],
};

const SAMPLERS = [
  'euler',
  'euler_ancestral',
  'dpmpp_2m',
  'dpmpp_2m_sde',
  'uni_pc',
  'uni_pc_bh2',
  'ddim',
  'lcm',
];
const SCHEDULERS = ['simple', 'normal', 'karras', 'exponential', 'sgm_uniform', 'beta', 'ddim_uniform'];
const OUTPUT_NODES = new Set(['SaveVideo', 'SaveWEBM', 'SaveAnimatedWEBP', 'VHS_VideoCombine']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** A few bytes that look like the start of an mp4. */
export function fakeMp4(size = 4096): Buffer {
  const head = Buffer.from([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0, 0, 2, 0]);
  return Buffer.concat([head, randomBytes(Math.max(0, size - head.length))]);
}

const isLink = (value: unknown): value is [string, number] =>
  Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'number';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function json(res: ServerResponse, status: number, body: unknown) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function contentType(filename: string): string {
  const lower = filename.toLowerCase();
  if (lower.endsWith('.mp4')) return 'video/mp4';
  if (lower.endsWith('.webm')) return 'video/webm';
  if (lower.endsWith('.png')) return 'image/png';
  if (lower.endsWith('.jpg') || lower.endsWith('.jpeg')) return 'image/jpeg';
  if (lower.endsWith('.webp')) return 'image/webp';
  return 'application/octet-stream';
}

/** Nodes the outputs depend on, in an order where inputs come first. */
function executionOrder(graph: Graph, outputs: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id) || !graph[id]) return;
    seen.add(id);
    const ids = Object.keys(graph[id]!.inputs ?? {})
      .map((name) => graph[id]!.inputs![name])
      .filter(isLink)
      .map((link) => link[0]);
    for (const source of ids) visit(source);
    order.push(id);
  };
  for (const id of outputs) visit(id);
  return order;
}

class FakeComfyServer implements FakeComfy {
  private options: Required<Omit<FakeComfyOptions, 'steps' | 'holdAtStep' | 'lorasDir'>> &
    Pick<FakeComfyOptions, 'steps' | 'holdAtStep' | 'lorasDir'>;
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private portNumber = 0;
  private generation = 0;
  private counter = 0;
  private pending: Entry[] = [];
  private running: Running | undefined;
  private readonly history = new Map<string, Record<string, unknown>>();
  private readonly sockets = new Map<string, WebSocket>();
  private readonly allSockets = new Set<WebSocket>();
  private readonly submitted: SubmittedPrompt[] = [];
  private readonly uploaded = new Map<string, FakeUpload>();
  private readonly files = new Map<string, Buffer>();
  private readonly fileCounters = new Map<string, number>();
  private readonly loaderCache = new Set<string>();
  private readonly log: FakeRequestLog[] = [];
  private refuseSocketsUntil = 0;
  /** Half-open sockets: open, but sent nothing any more. */
  private readonly muted = new WeakSet<WebSocket>();
  private closed = false;

  constructor(options: FakeComfyOptions) {
    this.options = {
      video: options.video ?? fakeMp4(),
      scenario: options.scenario ?? 'success',
      stepDelayMs: options.stepDelayMs ?? 3,
      nodeDelayMs: options.nodeDelayMs ?? 1,
      triggerAtStep: options.triggerAtStep ?? 2,
      preview: options.preview ?? true,
      models: { ...DEFAULT_MODELS, ...(options.models ?? {}) },
      missingNodes: options.missingNodes ?? [],
      dropSocketForMs: options.dropSocketForMs ?? 150,
      restartDownMs: options.restartDownMs ?? 150,
      historyDelayMs: options.historyDelayMs ?? 5,
      paused: options.paused ?? false,
      version: options.version ?? '0.3.64',
      resetPromptResponses: options.resetPromptResponses ?? 0,
      failQueueReads: options.failQueueReads ?? 0,
      ...(options.steps !== undefined ? { steps: options.steps } : {}),
      ...(options.holdAtStep !== undefined ? { holdAtStep: options.holdAtStep } : {}),
      ...(options.lorasDir !== undefined ? { lorasDir: options.lorasDir } : {}),
    };
  }

  get port() {
    return this.portNumber;
  }

  /** A model folder's files; `loras` from `lorasDir` when one is given (spec §2 `GET /models/{folder}`). */
  private modelFiles(folder: string): string[] | undefined {
    const dir = this.options.lorasDir;
    if (folder !== 'loras' || !dir) return this.options.models[folder];
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.safetensors'))
      .map((entry) => relative(dir, `${entry.parentPath}/${entry.name}`).split('\\').join('/'));
  }

  get url() {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  promptsSubmitted() {
    return [...this.submitted];
  }

  uploads() {
    return [...this.uploaded.values()];
  }

  requests() {
    return [...this.log];
  }

  setScenario(scenario: FakeScenario, options: Partial<FakeComfyOptions> = {}) {
    this.configure({ ...options, scenario });
  }

  configure(options: Partial<FakeComfyOptions>) {
    const models = options.models ? { ...DEFAULT_MODELS, ...options.models } : this.options.models;
    this.options = { ...this.options, ...options, models } as typeof this.options;
    if (options.paused === false) this.pump();
  }

  pause() {
    this.options.paused = true;
  }

  resume() {
    this.options.paused = false;
    this.pump();
  }

  release() {
    if (!this.running) return;
    this.running.released = true;
    this.running.wake?.();
  }

  queueIds() {
    return { running: this.running?.entry.promptId, pending: this.pending.map((entry) => entry.promptId) };
  }

  historyIds() {
    return [...this.history.keys()];
  }

  clients() {
    return [...this.sockets.keys()];
  }

  // -- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.http) return;
    const http = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) json(res, 500, { error: String(error) });
        else res.destroy();
      });
    });
    const wss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, socket, head) => this.upgrade(wss, req, socket, head));
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.portNumber, '127.0.0.1', () => {
        http.off('error', reject);
        resolve();
      });
    });
    const address = http.address();
    if (address && typeof address === 'object') this.portNumber = address.port;
    this.http = http;
    this.wss = wss;
  }

  forget() {
    this.generation += 1;
    if (this.running) {
      this.running.released = true;
      this.running.wake?.();
    }
    this.running = undefined;
    this.pending = [];
    this.history.clear();
    this.loaderCache.clear();
  }

  /** Like the process dying: queue, history and caches are lost; files on disk stay. */
  async stop(): Promise<void> {
    this.forget();
    for (const ws of this.allSockets) ws.terminate();
    this.allSockets.clear();
    this.sockets.clear();
    const http = this.http;
    this.http = undefined;
    this.wss?.close();
    this.wss = undefined;
    if (http) {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    }
  }

  async restart(downMs = this.options.restartDownMs): Promise<void> {
    await this.stop();
    await delay(downMs);
    if (!this.closed) await this.start();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  // -- WebSocket ------------------------------------------------------------------------------

  private upgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/^\/api(?=\/)/, '');
    if (path !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.originRefused(req) || Date.now() < this.refuseSocketsUntil) {
      const status = this.originRefused(req) ? '403 Forbidden' : '503 Service Unavailable';
      socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.log.push({ method: 'GET', path: url.pathname, headers: req.headers });
    wss.handleUpgrade(req, socket, head, (ws) => {
      const clientId = url.searchParams.get('clientId') || randomBytes(16).toString('hex');
      // Like server.py: the newest socket replaces the older one under the id...
      this.sockets.set(clientId, ws);
      this.allSockets.add(ws);
      ws.on('close', () => {
        this.allSockets.delete(ws);
        // ...and a closing socket removes whatever is registered under its id (spec §6.1).
        this.sockets.delete(clientId);
      });
      let first = true;
      ws.on('message', (data, isBinary) => {
        if (!first || isBinary) return;
        first = false;
        try {
          const message = JSON.parse(String(data)) as { type?: string };
          if (message.type === 'feature_flags') {
            ws.send(
              JSON.stringify({
                type: 'feature_flags',
                data: { supports_preview_metadata: true, max_upload_size: 100 * 1024 * 1024 },
              }),
            );
          }
        } catch {
          // not JSON: ignored like the real server
        }
      });
      ws.send(JSON.stringify({ type: 'status', data: { status: this.status(), sid: clientId } }));
      const running = this.running;
      if (running && running.entry.clientId === clientId && running.node !== undefined) {
        ws.send(JSON.stringify({ type: 'executing', data: { node: running.node } }));
      }
    });
  }

  private status() {
    return { exec_info: { queue_remaining: this.pending.length + (this.running ? 1 : 0) } };
  }

  private sendTo(clientId: string | undefined, type: string, data: Record<string, unknown>) {
    const text = JSON.stringify({ type, data });
    if (clientId === undefined) {
      if (type === 'progress' || type === 'progress_state' || type === 'execution_interrupted') {
        for (const ws of this.allSockets) if (this.live(ws)) ws.send(text);
      }
      return;
    }
    const ws = this.sockets.get(clientId);
    if (ws && this.live(ws)) ws.send(text);
  }

  private live(ws: WebSocket) {
    return ws.readyState === ws.OPEN && !this.muted.has(ws);
  }

  private broadcastStatus() {
    const text = JSON.stringify({ type: 'status', data: { status: this.status() } });
    for (const ws of this.allSockets) if (this.live(ws)) ws.send(text);
  }

  private sendPreview(clientId: string | undefined) {
    if (clientId === undefined) return;
    const ws = this.sockets.get(clientId);
    if (!ws || !this.live(ws)) return;
    const header = Buffer.alloc(8);
    header.writeUInt32BE(1, 0); // PREVIEW_IMAGE
    header.writeUInt32BE(2, 4); // PNG
    ws.send(Buffer.concat([header, Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(32)]), {
      binary: true,
    });
  }

  private dropSockets(forMs: number) {
    this.refuseSocketsUntil = Date.now() + forMs;
    for (const ws of this.allSockets) ws.terminate();
  }

  // -- HTTP -----------------------------------------------------------------------------------

  private originRefused(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (!origin || !host) return false;
    const hostName = host.replace(/:\d+$/, '');
    if (!LOOPBACK.has(hostName)) return false;
    try {
      return new URL(origin).host !== host;
    } catch {
      return true;
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/^\/api(?=\/)/, '');
    const method = req.method ?? 'GET';
    this.log.push({ method, path: url.pathname, headers: req.headers });
    if (this.originRefused(req)) {
      res.writeHead(403).end();
      return;
    }
    const body = method === 'POST' ? await readBody(req) : Buffer.alloc(0);
    const parse = (): Record<string, unknown> => {
      if (body.length === 0) return {};
      try {
        const value = JSON.parse(body.toString('utf8')) as unknown;
        return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
      } catch {
        return {};
      }
    };

    if (method === 'GET' && path === '/system_stats') return json(res, 200, this.systemStats());
    if (method === 'GET' && path === '/features') {
      return json(res, 200, { supports_preview_metadata: true, max_upload_size: 100 * 1024 * 1024 });
    }
    if (method === 'GET' && path === '/object_info') {
      return json(res, 200, Object.fromEntries(this.knownNodes().map((cls) => [cls, this.nodeInfo(cls)])));
    }
    if (method === 'GET' && path.startsWith('/object_info/')) {
      const cls = decodeURIComponent(path.slice('/object_info/'.length));
      return json(res, 200, this.knownNodes().includes(cls) ? { [cls]: this.nodeInfo(cls) } : {});
    }
    if (method === 'GET' && path === '/models') return json(res, 200, Object.keys(this.options.models));
    if (method === 'GET' && path.startsWith('/models/')) {
      const folder = decodeURIComponent(path.slice('/models/'.length));
      const files = this.modelFiles(folder);
      return files ? json(res, 200, files) : json(res, 404, { error: 'unknown folder' });
    }
    if (method === 'GET' && path === '/prompt') return json(res, 200, this.status());
    if (method === 'POST' && path === '/prompt') return this.postPrompt(parse(), res);
    if (method === 'GET' && path === '/queue') {
      if (this.options.failQueueReads > 0) {
        this.options.failQueueReads -= 1;
        return json(res, 500, { error: 'queue unavailable' });
      }
      return json(res, 200, {
        queue_running: this.running ? [this.queueItem(this.running.entry)] : [],
        queue_pending: this.pending.map((entry) => this.queueItem(entry)),
      });
    }
    if (method === 'POST' && path === '/queue') {
      const request = parse();
      if (request.clear === true) this.pending = [];
      if (Array.isArray(request.delete)) {
        const ids = new Set(request.delete.map(String));
        this.pending = this.pending.filter((entry) => !ids.has(entry.promptId));
      }
      this.broadcastStatus();
      res.writeHead(200).end();
      return;
    }
    if (method === 'POST' && path === '/interrupt') {
      const request = parse();
      const running = this.running;
      if (running) {
        const target = typeof request.prompt_id === 'string' ? request.prompt_id : undefined;
        if (target === undefined || target === running.entry.promptId) {
          running.interrupted = true;
          running.wake?.();
        }
      }
      res.writeHead(200).end();
      return;
    }
    if (method === 'POST' && path === '/free') {
      res.writeHead(200).end();
      return;
    }
    if (method === 'GET' && path === '/history') {
      const max = Number(url.searchParams.get('max_items') ?? 'NaN');
      const offset = Number(url.searchParams.get('offset') ?? '0') || 0;
      let entries = [...this.history.entries()];
      if (Number.isFinite(max))
        entries = entries.slice(Math.max(0, entries.length - max - offset), entries.length - offset);
      return json(res, 200, Object.fromEntries(entries));
    }
    if (method === 'GET' && path.startsWith('/history/')) {
      const id = decodeURIComponent(path.slice('/history/'.length));
      const item = this.history.get(id);
      return json(res, 200, item ? { [id]: item } : {});
    }
    if (method === 'POST' && path === '/history') {
      const request = parse();
      if (request.clear === true) this.history.clear();
      if (Array.isArray(request.delete)) for (const id of request.delete) this.history.delete(String(id));
      res.writeHead(200).end();
      return;
    }
    if (method === 'POST' && path === '/upload/image') return this.upload(req, body, res);
    if (method === 'GET' && path === '/view') return this.view(url, res);
    res.writeHead(404).end();
  }

  private knownNodes() {
    return KNOWN_NODES.filter((cls) => !this.options.missingNodes.includes(cls));
  }

  private nodeInfo(cls: string) {
    return {
      input: { required: {} },
      input_order: { required: [] },
      output: [],
      output_is_list: [],
      output_name: [],
      name: cls,
      display_name: cls,
      description: '',
      python_module: 'nodes',
      category: 'fake',
      output_node: OUTPUT_NODES.has(cls),
    };
  }

  private systemStats() {
    return {
      system: {
        os: 'posix',
        ram_total: 64 * 1024 ** 3,
        ram_free: 48 * 1024 ** 3,
        comfyui_version: this.options.version,
        required_frontend_version: '1.27.10',
        python_version: '3.12.3',
        pytorch_version: '2.8.0+cu128',
        embedded_python: false,
        argv: ['main.py', '--listen'],
      },
      devices: [
        {
          name: 'cuda:0 NVIDIA L40S : cudaMallocAsync',
          type: 'cuda',
          index: 0,
          vram_total: 48 * 1024 ** 3,
          vram_free: 40 * 1024 ** 3,
          torch_vram_total: 2 * 1024 ** 3,
          torch_vram_free: 1024 ** 3,
        },
      ],
    };
  }

  private queueItem(entry: Entry) {
    return [entry.number, entry.promptId, entry.graph, entry.extraData, entry.outputs];
  }

  private async upload(req: IncomingMessage, body: Buffer, res: ServerResponse) {
    let form: FormData;
    try {
      form = await new Request('http://fake/upload', {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        body,
      }).formData();
    } catch {
      res.writeHead(400).end();
      return;
    }
    const image = form.get('image');
    if (!image || typeof image === 'string') {
      res.writeHead(400).end();
      return;
    }
    const type = String(form.get('type') ?? 'input') || 'input';
    const subfolder = String(form.get('subfolder') ?? '');
    const overwrite = ['true', '1'].includes(String(form.get('overwrite') ?? ''));
    if (
      subfolder.includes('..') ||
      subfolder.startsWith('/') ||
      image.name.includes('/') ||
      image.name.includes('..')
    ) {
      res.writeHead(400).end();
      return;
    }
    let name = image.name;
    if (!overwrite) {
      let index = 1;
      const dot = image.name.lastIndexOf('.');
      const stem = dot > 0 ? image.name.slice(0, dot) : image.name;
      const ext = dot > 0 ? image.name.slice(dot) : '';
      while (this.uploaded.has(`${type}/${subfolder}/${name}`)) {
        name = `${stem} (${index})${ext}`;
        index += 1;
      }
    }
    const bytes = Buffer.from(await image.arrayBuffer());
    this.uploaded.set(`${type}/${subfolder}/${name}`, { name, subfolder, type, bytes });
    json(res, 200, { name, subfolder, type });
  }

  private view(url: URL, res: ServerResponse) {
    const filename = url.searchParams.get('filename') ?? '';
    const subfolder = url.searchParams.get('subfolder') ?? '';
    const type = url.searchParams.get('type') || 'output';
    if (!filename || filename.startsWith('/') || filename.includes('..')) {
      res.writeHead(400).end();
      return;
    }
    if (subfolder.includes('..') || subfolder.startsWith('/')) {
      res.writeHead(403).end();
      return;
    }
    const key = `${type}/${subfolder}/${filename}`;
    const bytes = type === 'input' ? this.uploaded.get(key)?.bytes : this.files.get(key);
    if (!bytes) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': contentType(filename),
      'content-length': bytes.length,
      'content-disposition': `filename="${filename}"`,
    });
    res.end(bytes);
  }

  // -- prompts --------------------------------------------------------------------------------

  private postPrompt(request: Record<string, unknown>, res: ServerResponse) {
    const fail = (type: string, message: string, details: string, nodeErrors: Record<string, unknown> = {}) =>
      json(res, 400, { error: { type, message, details, extra_info: {} }, node_errors: nodeErrors });
    const graph = request.prompt as Graph | undefined;
    if (!graph || typeof graph !== 'object') return fail('no_prompt', 'No prompt provided', '');
    const known = this.knownNodes();
    for (const [id, node] of Object.entries(graph)) {
      if (!node || typeof node.class_type !== 'string') {
        return fail(
          'invalid_prompt',
          'Cannot execute because a node is missing the class_type property.',
          `Node ID '#${id}'`,
        );
      }
      if (!known.includes(node.class_type)) {
        return fail(
          'invalid_prompt',
          `Cannot execute because node ${node.class_type} does not exist.`,
          `Node ID '#${id}'`,
        );
      }
    }
    const outputs = Object.keys(graph).filter((id) => OUTPUT_NODES.has(graph[id]!.class_type!));
    if (outputs.length === 0) return fail('prompt_no_outputs', 'Prompt has no outputs', '');

    const nodeErrors: Record<string, { errors: unknown[]; dependent_outputs: string[]; class_type: string }> =
      {};
    const addError = (id: string, type: string, message: string, details: string, inputName: string) => {
      nodeErrors[id] ??= { errors: [], dependent_outputs: outputs, class_type: graph[id]!.class_type! };
      nodeErrors[id].errors.push({ type, message, details, extra_info: { input_name: inputName } });
    };
    for (const [id, node] of Object.entries(graph)) {
      const inputs = node.inputs ?? {};
      for (const [name, value] of Object.entries(inputs)) {
        if (isLink(value) && !graph[value[0]]) {
          addError(
            id,
            'bad_linked_input',
            'Bad linked input',
            `${name}: node ${value[0]} does not exist`,
            name,
          );
        }
      }
      const model = MODEL_INPUTS[node.class_type!];
      if (model) {
        const [input, folder] = model;
        const files = this.modelFiles(folder) ?? [];
        const value = inputs[input];
        if (typeof value !== 'string' || !files.includes(value)) {
          addError(
            id,
            'value_not_in_list',
            'Value not in list',
            `${input}: '${String(value)}' not in ${JSON.stringify(files)}`,
            input,
          );
        }
      }
      if (node.class_type === 'LoadImage') {
        const value = String(inputs.image ?? '');
        const slash = value.lastIndexOf('/');
        const key = `input/${slash >= 0 ? value.slice(0, slash) : ''}/${slash >= 0 ? value.slice(slash + 1) : value}`;
        if (!this.uploaded.has(key)) {
          addError(
            id,
            'custom_validation_failed',
            'Custom validation failed for node',
            `image - Invalid image file: ${value}`,
            'image',
          );
        }
      }
      if (node.class_type === 'KSampler' || node.class_type === 'KSamplerAdvanced') {
        if (!SAMPLERS.includes(String(inputs.sampler_name))) {
          addError(
            id,
            'value_not_in_list',
            'Value not in list',
            `sampler_name: '${String(inputs.sampler_name)}' not in list`,
            'sampler_name',
          );
        }
        if (!SCHEDULERS.includes(String(inputs.scheduler))) {
          addError(
            id,
            'value_not_in_list',
            'Value not in list',
            `scheduler: '${String(inputs.scheduler)}' not in list`,
            'scheduler',
          );
        }
        const steps = Number(inputs.steps);
        if (!Number.isInteger(steps) || steps < 1 || steps > 10000) {
          addError(id, 'invalid_input_type', 'Invalid input type', `steps: ${String(inputs.steps)}`, 'steps');
        }
      }
      if (node.class_type === 'WanImageToVideo' || node.class_type === 'WanFirstLastFrameToVideo') {
        for (const name of ['width', 'height']) {
          const value = Number(inputs[name]);
          if (!Number.isInteger(value) || value < 16 || value % 16 !== 0) {
            addError(
              id,
              'value_smaller_than_min',
              'Value not valid',
              `${name}: ${String(inputs[name])}`,
              name,
            );
          }
        }
      }
    }
    if (Object.keys(nodeErrors).length > 0) {
      const details = Object.entries(nodeErrors)
        .flatMap(([id, entry]) =>
          (entry.errors as { message: string; details: string }[]).map(
            (error) => `${entry.class_type} ${id}: ${error.message}: ${error.details}`,
          ),
        )
        .join('\n');
      return fail(
        'prompt_outputs_failed_validation',
        'Prompt outputs failed validation',
        details,
        nodeErrors,
      );
    }

    const promptId = request.prompt_id === undefined ? randomUUID() : String(request.prompt_id);
    if (!UUID.test(promptId))
      return fail('invalid_prompt', 'Invalid prompt_id', `'${promptId}' is not a UUID`);
    this.counter += 1;
    const number =
      typeof request.number === 'number'
        ? request.number
        : request.front === true
          ? -this.counter
          : this.counter;
    const extraData = {
      ...((request.extra_data as Record<string, unknown> | undefined) ?? {}),
      ...(typeof request.client_id === 'string' ? { client_id: request.client_id } : {}),
    };
    const entry: Entry = {
      number,
      promptId,
      graph,
      extraData,
      outputs,
      clientId: typeof request.client_id === 'string' ? request.client_id : undefined,
    };
    this.pending.push(entry);
    this.pending.sort((a, b) => a.number - b.number);
    this.submitted.push({ promptId, clientId: entry.clientId, number, graph, at: Date.now() });
    if (this.options.resetPromptResponses > 0) {
      this.options.resetPromptResponses -= 1;
      res.socket?.destroy();
    } else {
      json(res, 200, { prompt_id: promptId, number, node_errors: {} });
    }
    this.broadcastStatus();
    queueMicrotask(() => this.pump());
  }

  private pump() {
    if (this.running || this.options.paused || this.pending.length === 0 || !this.http) return;
    const entry = this.pending.shift()!;
    const running: Running = { entry, interrupted: false, released: false, node: undefined, wake: undefined };
    this.running = running;
    void this.execute(running).catch(() => undefined);
  }

  private async execute(running: Running) {
    const generation = this.generation;
    const alive = () => this.generation === generation && this.running === running;
    const { entry } = running;
    const { promptId, clientId, graph } = entry;
    const options = this.options;
    const scenario = options.scenario;
    const messages: [string, Record<string, unknown>][] = [];
    const event = (type: string, data: Record<string, unknown>) => {
      messages.push([type, data]);
      this.sendTo(clientId, type, data);
    };
    const send = (type: string, data: Record<string, unknown>) => this.sendTo(clientId, type, data);
    const nodeState = (id: string, state: string, value: number, max: number) => ({
      prompt_id: promptId,
      nodes: {
        [id]: {
          value,
          max,
          state,
          node_id: id,
          prompt_id: promptId,
          display_node_id: id,
          parent_node_id: null,
          real_node_id: id,
        },
      },
    });

    this.broadcastStatus();
    event('execution_start', { prompt_id: promptId, timestamp: Date.now() });
    const order = executionOrder(graph, entry.outputs);
    const loaderKey = (id: string) => `${graph[id]!.class_type}:${JSON.stringify(graph[id]!.inputs ?? {})}`;
    const cached =
      scenario === 'cached'
        ? order
        : order.filter((id) => /Loader$/.test(graph[id]!.class_type!) && this.loaderCache.has(loaderKey(id)));
    event('execution_cached', { nodes: cached, prompt_id: promptId, timestamp: Date.now() });
    const executed: string[] = [...cached];
    const outputs: Record<string, unknown> = {};

    const end = (status: 'success' | 'error') => {
      if (!alive()) return;
      // task_done: leaves the running list and enters history in one step.
      this.running = undefined;
      this.history.set(promptId, {
        prompt: this.queueItem(entry),
        outputs,
        meta: Object.fromEntries(
          Object.keys(outputs).map((id) => [
            id,
            { node_id: id, display_node: id, parent_node: null, real_node_id: id },
          ]),
        ),
        status: { status_str: status, completed: status === 'success', messages },
      });
      this.broadcastStatus();
      send('executing', { node: null, prompt_id: promptId });
      this.pump();
    };
    const interrupted = (id: string) => {
      event('execution_interrupted', {
        prompt_id: promptId,
        node_id: id,
        node_type: graph[id]?.class_type,
        executed,
        timestamp: Date.now(),
      });
      end('error');
    };
    const failed = (id: string, oom: boolean) => {
      event('execution_error', {
        prompt_id: promptId,
        node_id: id,
        node_type: graph[id]?.class_type,
        executed,
        exception_message: oom
          ? 'Allocation on device 0 would exceed allowed memory. (out of memory)'
          : 'mat1 and mat2 shapes cannot be multiplied (77x768 and 4096x5120)',
        exception_type: oom ? 'torch.OutOfMemoryError' : 'RuntimeError',
        traceback: [
          '  File "/comfy/execution.py", line 496, in execute\n',
          '  File "/comfy/nodes.py", line 1525, in sample\n',
          oom ? 'torch.OutOfMemoryError: Allocation on device\n' : 'RuntimeError: mat1 and mat2 shapes\n',
        ],
        current_inputs: {},
        current_outputs: {},
        timestamp: Date.now(),
      });
      end('error');
    };

    for (const id of order) {
      const node = graph[id]!;
      if (cached.includes(id)) {
        if (OUTPUT_NODES.has(node.class_type!)) {
          outputs[id] = this.makeOutput(id, node, scenario);
          send('executed', { node: id, display_node: id, output: outputs[id], prompt_id: promptId });
        }
        continue;
      }
      if (!alive()) return;
      running.node = id;
      send('executing', { node: id, display_node: id, prompt_id: promptId });
      send('progress_state', nodeState(id, 'running', 0, 1));
      if (node.class_type === 'KSampler' || node.class_type === 'KSamplerAdvanced') {
        const steps = options.steps ?? (Number(node.inputs?.steps) || 20);
        for (let step = 1; step <= steps; step += 1) {
          await delay(options.stepDelayMs);
          if (!alive()) return;
          if (running.interrupted) return interrupted(id);
          if (step === options.triggerAtStep) {
            if (scenario === 'execution_error' || scenario === 'oom') return failed(id, scenario === 'oom');
            if (scenario === 'interrupt') return interrupted(id);
            if (scenario === 'drop_socket') {
              this.options.scenario = 'success';
              this.dropSockets(options.dropSocketForMs);
            }
            if (scenario === 'mute_socket') {
              this.options.scenario = 'success';
              for (const ws of this.allSockets) this.muted.add(ws);
            }
            if (scenario === 'restart') {
              this.options.scenario = 'success';
              void this.restart(options.restartDownMs);
              return;
            }
          }
          if (options.holdAtStep === step && !running.released) {
            await new Promise<void>((resolve) => {
              running.wake = resolve;
              if (running.interrupted || running.released) resolve();
            });
            running.wake = undefined;
            if (!alive()) return;
            if (running.interrupted) return interrupted(id);
          }
          send('progress', { value: step, max: steps, prompt_id: promptId, node: id });
          send('progress_state', nodeState(id, 'running', step, steps));
          if (step === 1 && options.preview) this.sendPreview(clientId);
        }
      } else {
        await delay(options.nodeDelayMs);
        if (!alive()) return;
        if (running.interrupted) return interrupted(id);
      }
      send('progress_state', nodeState(id, 'finished', 1, 1));
      executed.push(id);
      if (/Loader$/.test(node.class_type!)) this.loaderCache.add(loaderKey(id));
      if (OUTPUT_NODES.has(node.class_type!)) {
        outputs[id] = this.makeOutput(id, node, scenario);
        send('executed', { node: id, display_node: id, output: outputs[id], prompt_id: promptId });
      }
    }
    if (!alive()) return;
    event('execution_success', { prompt_id: promptId, timestamp: Date.now() });
    // The history is written by task_done after execute() returns: a client asking right away
    // after execution_success can still see `{}`.
    await delay(options.historyDelayMs);
    end('success');
  }

  private makeOutput(id: string, node: FakeNode, scenario: FakeScenario) {
    const prefix = String(node.inputs?.filename_prefix ?? 'ComfyUI');
    const slash = prefix.lastIndexOf('/');
    const subfolder = slash >= 0 ? prefix.slice(0, slash) : '';
    const base = slash >= 0 ? prefix.slice(slash + 1) : prefix;
    const count = (this.fileCounters.get(prefix) ?? 0) + 1;
    this.fileCounters.set(prefix, count);
    const filename = `${base}_${String(count).padStart(5, '0')}_.mp4`;
    this.files.set(`output/${subfolder}/${filename}`, this.options.video);
    if (scenario === 'gifs' || node.class_type === 'VHS_VideoCombine') {
      return {
        gifs: [
          {
            filename,
            subfolder,
            type: 'output',
            format: 'video/h264-mp4',
            frame_rate: Number(node.inputs?.frame_rate ?? 16),
            workflow: `${base}_${String(count).padStart(5, '0')}.png`,
            fullpath: `/comfy/output/${subfolder}/${filename}`,
          },
        ],
      };
    }
    void id;
    return { images: [{ filename, subfolder, type: 'output' }], animated: [true] };
  }
}

/** Starts a fake ComfyUI on 127.0.0.1 (port 0 = any free port). */
export async function startFakeComfy(options: FakeComfyOptions = {}): Promise<FakeComfy> {
  const server = new FakeComfyServer(options);
  await server.start();
  return server;
}
