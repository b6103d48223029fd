import type { Dispatcher } from 'undici';
import { ConfigurationError, TransientError } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import {
  acquireSocket,
  ComfyClient,
  type ComfyServerConfig,
  type ComfySocket,
  ComfyUnreachableError,
  describe,
  displayHost,
  normaliseUrl,
} from './client.js';
import { type ComfyModelFiles, MODEL_FOLDERS, type Placeholder, type WorkflowTemplate } from './workflow.js';

/** The setting that names each weights file, for messages that tell the operator what to change. */
const SETTING_OF: Record<string, string> = {
  unet: 'COMFYUI_UNET',
  textEncoder: 'COMFYUI_TEXT_ENCODER',
  vae: 'COMFYUI_VAE',
  clipVision: 'COMFYUI_CLIP_VISION',
  flfUnet: 'COMFYUI_FLF_UNET',
};
/**
 * The configured ComfyUI servers: start-up and periodic preflight (spec §2), health, and picking the
 * least busy healthy server for a new job.
 */

export const DOWN_MESSAGE = 'the self-hosted GPU backend is down (no ComfyUI server answers)';

export interface PreflightReport {
  url: string;
  host: string;
  /** Reachable and ready: every node and weights file the workflows need is there. */
  ok: boolean;
  reachable: boolean;
  version?: string;
  devices?: { name: string; vramTotal?: number; vramFree?: number }[];
  /** What makes the server unusable, one line each, naming the node or file. */
  problems: string[];
  /** What limits it (e.g. no FLF2V weights) without making it unusable. */
  warnings: string[];
  checkedAt: number;
}

export interface PoolOptions {
  servers: readonly ComfyServerConfig[];
  clientId: string;
  models: ComfyModelFiles;
  /** The image-to-video template (required nodes) and the first-last-frame one (optional). */
  templates: { i2v: WorkflowTemplate; flf: WorkflowTemplate };
  preflightIntervalMs: number;
  requestTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  log: Logger;
  dispatcher?: Dispatcher;
}

export class ComfyServer {
  readonly url: string;
  readonly host: string;
  readonly client: ComfyClient;
  readonly socket: ComfySocket;
  report: PreflightReport | undefined;
  /** Submissions from this process not yet visible in the server's queue. */
  inflight = 0;
  checking: Promise<PreflightReport> | undefined;
  readonly release: () => void;

  constructor(config: ComfyServerConfig, options: PoolOptions) {
    this.url = normaliseUrl(config.url);
    this.host = displayHost(this.url);
    this.client = new ComfyClient({
      config: { ...config, url: this.url },
      timeoutMs: options.requestTimeoutMs,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    const held = acquireSocket({
      config: { ...config, url: this.url },
      clientId: options.clientId,
      reconnectMinMs: options.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs,
      log: options.log,
    });
    this.socket = held.socket;
    this.release = held.release;
  }
}

/** Extra core nodes some requests insert (spec §10); missing ones only limit those requests. */
const EXTRA_NODES = ['ImageScaleBy', 'VAEDecodeTiled', 'CFGZeroStar'];

const classesOf = (template: WorkflowTemplate) =>
  new Set(Object.values(template.graph).map((node) => node.class_type));

export class ComfyPool {
  readonly servers: ComfyServer[];
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  /** Checks and load probes give up sooner than job calls, so one silent host cannot stall a pick. */
  private readonly probeTimeoutMs: number;
  private turn = 0;

  constructor(private readonly options: PoolOptions) {
    this.probeTimeoutMs = Math.min(options.requestTimeoutMs, 10_000);
    const seen = new Set<string>();
    this.servers = [];
    for (const config of options.servers) {
      const url = normaliseUrl(config.url);
      if (seen.has(url)) continue;
      seen.add(url);
      this.servers.push(new ComfyServer(config, options));
    }
    if (this.servers.length === 0) {
      throw new ConfigurationError('no ComfyUI server is configured (set COMFYUI_URL)');
    }
  }

  /** Opens the sockets and starts the periodic preflight. Idempotent. */
  start() {
    if (this.started) return;
    this.started = true;
    for (const server of this.servers) server.socket.start();
    void this.refresh(0).catch(() => undefined);
    if (this.options.preflightIntervalMs > 0) {
      this.timer = setInterval(() => {
        void this.refresh(this.options.preflightIntervalMs / 2).catch(() => undefined);
      }, this.options.preflightIntervalMs);
      this.timer.unref();
    }
  }

  close() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const server of this.servers) server.release();
  }

  /** Only configured servers: a stored job or output naming another URL is refused. */
  get(url: string | undefined): ComfyServer | undefined {
    if (!url) return undefined;
    const wanted = normaliseUrl(url);
    return this.servers.find((server) => server.url === wanted);
  }

  /** Checks every server now. */
  preflight(): Promise<PreflightReport[]> {
    return this.refresh(0);
  }

  /** Checks the servers whose last report is older than `maxAgeMs` (or missing). */
  async refresh(maxAgeMs: number, only?: (server: ComfyServer) => boolean): Promise<PreflightReport[]> {
    const now = Date.now();
    return Promise.all(
      this.servers.map((server) => {
        const fresh = server.report && now - server.report.checkedAt <= maxAgeMs;
        if (fresh || (only && !only(server))) return Promise.resolve(server.report!);
        server.checking ??= this.check(server).finally(() => {
          server.checking = undefined;
        });
        return server.checking;
      }),
    ).then((reports) => reports.filter((report): report is PreflightReport => report !== undefined));
  }

  reports(): PreflightReport[] {
    return this.servers.map((server) => server.report).filter((r): r is PreflightReport => r !== undefined);
  }

  private async check(server: ComfyServer): Promise<PreflightReport> {
    const report = await this.inspect(server);
    const before = server.report;
    server.report = report;
    const log = this.options.log;
    if (!report.ok && (before?.ok ?? true)) {
      log.warn({ server: server.host, problems: report.problems }, 'ComfyUI server is not usable');
    } else if (report.ok && before && !before.ok) {
      log.info({ server: server.host }, 'ComfyUI server is usable again');
    }
    if (report.warnings.length > 0 && JSON.stringify(report.warnings) !== JSON.stringify(before?.warnings)) {
      log.warn({ server: server.host, warnings: report.warnings }, 'ComfyUI server preflight warnings');
    }
    return report;
  }

  private async inspect(server: ComfyServer): Promise<PreflightReport> {
    const base = { url: server.url, host: server.host, checkedAt: Date.now() };
    const client = server.client;
    let stats: Record<string, unknown>;
    try {
      stats = await client.systemStats(undefined, this.probeTimeoutMs);
    } catch (error) {
      return {
        ...base,
        ok: false,
        reachable: false,
        problems: [`ComfyUI at ${server.host} does not answer (${describe(error)})`],
        warnings: [],
      };
    }
    const problems: string[] = [];
    const warnings: string[] = [];
    const system = (stats.system ?? {}) as Record<string, unknown>;
    const version = typeof system.comfyui_version === 'string' ? system.comfyui_version : undefined;
    const devices = Array.isArray(stats.devices)
      ? (stats.devices as Record<string, unknown>[]).map((device) => ({
          name: String(device.name ?? 'unknown'),
          ...(typeof device.vram_total === 'number' ? { vramTotal: device.vram_total } : {}),
          ...(typeof device.vram_free === 'number' ? { vramFree: device.vram_free } : {}),
        }))
      : undefined;
    let unreachable: unknown;

    const { i2v, flf } = this.options.templates;
    const required = classesOf(i2v);
    required.add('WanImageToVideo');
    const optional = new Set([...classesOf(flf), ...EXTRA_NODES].filter((c) => !required.has(c)));
    const nodeChecks = [...required, ...optional].map(async (classType) => {
      try {
        const info = await client.objectInfo(classType, undefined, this.probeTimeoutMs);
        return { classType, present: Object.keys(info).length > 0 };
      } catch (error) {
        if (error instanceof ComfyUnreachableError) unreachable = error;
        return { classType, present: false, error };
      }
    });

    const files: { key: keyof ComfyModelFiles; file: string; required: boolean }[] = [];
    const models = this.options.models;
    for (const key of ['unet', 'textEncoder', 'vae', 'clipVision'] as const) {
      const placeholder = `model.${key}` as Placeholder;
      if (i2v.placeholders.has(placeholder) || flf.placeholders.has(placeholder)) {
        files.push({ key, file: models[key], required: true });
      }
    }
    if (models.flfUnet && flf.placeholders.has('model.unet')) {
      files.push({ key: 'flfUnet', file: models.flfUnet, required: false });
    }
    const folders = [...new Set(files.map((f) => MODEL_FOLDERS[f.key]))];
    const listings = new Map<string, string[] | Error>();
    const folderChecks = folders.map(async (folder) => {
      try {
        listings.set(folder, await client.models(folder, undefined, this.probeTimeoutMs));
      } catch (error) {
        if (error instanceof ComfyUnreachableError) unreachable = error;
        listings.set(folder, error as Error);
      }
    });

    const nodes = await Promise.all(nodeChecks);
    await Promise.all(folderChecks);
    if (unreachable) {
      return {
        ...base,
        ok: false,
        reachable: false,
        ...(version ? { version } : {}),
        problems: [`ComfyUI at ${server.host} stopped answering during the check (${describe(unreachable)})`],
        warnings: [],
      };
    }
    for (const node of nodes) {
      if (node.present) continue;
      const reason = node.error ? ` (${describe(node.error)})` : '';
      if (required.has(node.classType)) {
        problems.push(`ComfyUI at ${server.host} has no ${node.classType} node${reason}`);
      } else {
        warnings.push(
          `ComfyUI at ${server.host} has no ${node.classType} node, so requests that need it will fail`,
        );
      }
    }
    for (const { key, file, required: needed } of files) {
      const folder = MODEL_FOLDERS[key];
      const listing = listings.get(folder);
      if (listing instanceof Error) {
        warnings.push(`could not list models/${folder} on ComfyUI at ${server.host} (${describe(listing)})`);
        continue;
      }
      if (listing?.includes(file)) continue;
      const present = (listing ?? []).filter((name) => /wan|umt5|clip_vision/i.test(name)).slice(0, 4);
      const hint = `; put it there or set ${SETTING_OF[key]} to a file the server has${present.length > 0 ? ` (e.g. ${present.join(', ')})` : ''}`;
      const line = `ComfyUI at ${server.host} is missing model file ${file} (models/${folder})${hint}`;
      if (needed) problems.push(line);
      else warnings.push(`${line}; first-and-last-frame jobs will fail there`);
    }
    return {
      ...base,
      ok: problems.length === 0,
      reachable: true,
      ...(version ? { version } : {}),
      ...(devices ? { devices } : {}),
      problems,
      warnings,
    };
  }

  /** Records a failed call so the next pick skips the server until a preflight passes again. */
  markDown(server: ComfyServer, error: unknown) {
    server.report = {
      url: server.url,
      host: server.host,
      ok: false,
      reachable: false,
      problems: [`ComfyUI at ${server.host} does not answer (${describe(error)})`],
      warnings: [],
      checkedAt: Date.now(),
    };
  }

  /** Why no server can take work, as the error a submission throws. */
  unavailable(): Error {
    const reports = this.reports();
    const reachable = reports.filter((report) => report.reachable && !report.ok);
    if (reachable.length > 0) {
      const problems = [...new Set(reachable.flatMap((report) => report.problems))];
      return new ConfigurationError(`the self-hosted GPU backend is not usable: ${problems.join('; ')}`);
    }
    return new TransientError(DOWN_MESSAGE);
  }

  /**
   * The least busy usable server: queue length (running + pending) from `GET /queue`, plus this
   * process's submissions in flight; ties go round-robin. Servers that do not answer are skipped.
   */
  async pick(signal?: AbortSignal): Promise<ComfyServer> {
    await this.refresh(this.options.preflightIntervalMs);
    let candidates = this.servers.filter((server) => server.report?.ok);
    if (candidates.length === 0) {
      // One may have come back since its last check.
      await this.refresh(1000, (server) => !server.report?.ok);
      candidates = this.servers.filter((server) => server.report?.ok);
    }
    signal?.throwIfAborted();
    if (candidates.length === 0) throw this.unavailable();
    const loads = await Promise.all(
      candidates.map(async (server) => {
        try {
          const queue = await server.client.queue(signal, this.probeTimeoutMs);
          return { server, load: queue.running.length + queue.pending.length + server.inflight };
        } catch (error) {
          signal?.throwIfAborted();
          this.markDown(server, error);
          this.options.log.warn(
            { server: server.host, err: error },
            'ComfyUI server did not answer GET /queue',
          );
          return undefined;
        }
      }),
    );
    const usable = loads.filter(
      (entry): entry is { server: ComfyServer; load: number } => entry !== undefined,
    );
    if (usable.length === 0) throw this.unavailable();
    const least = Math.min(...usable.map((entry) => entry.load));
    const tied = usable.filter((entry) => entry.load === least);
    this.turn = (this.turn + 1) % 1_000_000;
    return tied[this.turn % tied.length]!.server;
  }

  /** The backend's health from the latest reports (refreshed when older than `maxAgeMs`). */
  async health(maxAgeMs: number): Promise<{ ok: boolean; message?: string }> {
    const reports = await this.refresh(maxAgeMs);
    const ok = reports.filter((report) => report.ok);
    if (ok.length === 0) {
      if (!reports.some((report) => report.reachable)) return { ok: false, message: DOWN_MESSAGE };
      const problems = [...new Set(reports.flatMap((report) => report.problems))];
      return { ok: false, message: `the self-hosted GPU backend is not usable: ${problems.join('; ')}` };
    }
    const bad = reports.filter((report) => !report.ok);
    if (bad.length > 0) {
      return {
        ok: true,
        message: `${bad.length} of ${reports.length} ComfyUI servers unavailable: ${bad.flatMap((r) => r.problems).join('; ')}`,
      };
    }
    return { ok: true };
  }
}
