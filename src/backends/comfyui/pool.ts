import { ConfigurationError, TransientError } from '../../core/errors.js';
import type { ComfyModelFiles } from './model-files.js';
import { inspectServer, type PreflightReport, unreachableReport } from './preflight.js';
import { ComfyServer, type ServerOptions } from './server.js';
import { type ComfyServerConfig, normaliseUrl } from './server-url.js';
import type { WorkflowTemplates } from './template.js';

/**
 * The configured ComfyUI servers: start-up and periodic preflight (spec §2), health, and picking the
 * least busy healthy server for a new job.
 */

export const DOWN_MESSAGE = 'the self-hosted GPU backend is down (no ComfyUI server answers)';

export interface PoolOptions extends ServerOptions {
  servers: readonly ComfyServerConfig[];
  models: ComfyModelFiles;
  /** The image-to-video template (required nodes) and the first-last-frame one (optional). */
  templates: WorkflowTemplates;
  preflightIntervalMs: number;
}

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
    const report = await inspectServer(server, {
      templates: this.options.templates,
      models: this.options.models,
      probeTimeoutMs: this.probeTimeoutMs,
    });
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

  /** Records a failed call so the next pick skips the server until a preflight passes again. */
  markDown(server: ComfyServer, error: unknown) {
    server.report = unreachableReport(server, error);
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
