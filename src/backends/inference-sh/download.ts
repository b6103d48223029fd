import { setTimeout as sleep } from 'node:timers/promises';
import { type Dispatcher, request } from 'undici';
import { ConfigurationError, isPermanent, TransientError, UserFacingError } from '../../core/errors.js';
import { boundedBody } from '../../media/bounded-body.js';
import type { BackendOutput, VideoStream } from '../backend.js';
import { serverWaitMs } from './envelope.js';
import { abortError } from './errors.js';
import type { InferenceHttp } from './http.js';
import { classifyNetworkError } from './network-error.js';

/**
 * The finished video out of inference.sh (shared/specs/inference-sh-api.md §10.3-§10.4): a plain GET of the
 * result URL, only from trusted hosts (checked again after every redirect), never with the API key,
 * bounded in size (media/bounded-body.ts) and in time.
 */

/** Statuses after which a download follows `Location` (by hand: undici's `request` does not). */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/**
 * Whether a result URL may be fetched: the API's own machine (any port), *.inference.sh over https,
 * or a configured output host (`host`, `host:port`, `*.domain` or a URL).
 */
export function isAllowedOutputHost(url: URL, apiHost: string, outputHosts: readonly string[]): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  const host = url.host.toLowerCase();
  const hostname = url.hostname.toLowerCase();
  // The API's own machine on any port: a storage or CDN origin beside a self-hosted or proxied API.
  if (host === apiHost.toLowerCase() || hostname === new URL(`http://${apiHost}`).hostname.toLowerCase())
    return true;
  if (url.protocol === 'https:' && (hostname === 'inference.sh' || hostname.endsWith('.inference.sh')))
    return true;
  return outputHosts.some((raw) => {
    let entry = raw.trim().toLowerCase();
    if (!entry) return false;
    if (entry.includes('://')) {
      try {
        entry = new URL(entry).host;
      } catch {
        return false;
      }
    }
    if (entry.startsWith('*.')) return hostname.endsWith(entry.slice(1));
    return entry.includes(':') ? host === entry : hostname === entry;
  });
}

/** What the downloader needs of the HTTP client: its limits, backoff and redaction, not its key. */
export type DownloadTransport = Pick<InferenceHttp, 'scrub' | 'backoffMs' | 'timeouts' | 'retry'>;

export interface DownloadOptions {
  dispatcher: Dispatcher;
  /** The API's `host[:port]`. */
  apiHost: string;
  /** INFERENCE_OUTPUT_HOSTS. */
  outputHosts: readonly string[];
  /** Largest result accepted, in bytes (MAX_OUTPUT_BYTES). */
  maxOutputBytes: number;
  userAgent: string;
}

export class ResultDownloader {
  constructor(
    private readonly http: DownloadTransport,
    private readonly options: DownloadOptions,
  ) {}

  isAllowed(url: URL): boolean {
    return isAllowedOutputHost(url, this.options.apiHost, this.options.outputHosts);
  }

  async download(output: BackendOutput, signal: AbortSignal): Promise<VideoStream> {
    const max = this.options.maxOutputBytes;
    const { timeouts } = this.http;
    let url: URL;
    try {
      url = new URL(output.location);
    } catch {
      throw new UserFacingError(
        `inference.sh returned a result location that is not a URL: ${output.location.slice(0, 200)}`,
      );
    }
    const shown = `${url.protocol}//${url.host}${url.pathname}`;
    if (!this.isAllowed(url)) {
      throw new ConfigurationError(
        `refusing to download the result from ${url.host}: results are fetched only from the inference.sh API's host, *.inference.sh and the hosts listed in INFERENCE_OUTPUT_HOSTS (add ${url.host} there if it is trusted)`,
      );
    }
    const tooLarge = (bytes: number) =>
      new UserFacingError(
        `the video is ${(bytes / 1024 / 1024).toFixed(1)} MiB, more than the ${(max / 1024 / 1024).toFixed(1)} MiB the bot accepts (MAX_OUTPUT_BYTES); try fewer frames or a lower resolution`,
      );
    if (output.bytes && output.bytes > max) throw tooLarge(output.bytes);
    const attempts = Math.max(1, this.http.retry.attempts);
    let reason = '';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      // The whole transfer is bounded: downloadMs, stretched for a large file to at least 1 MiB/s.
      const timeout = new AbortController();
      const expire = () => timeout.abort(new Error('the download took too long'));
      let timer = setTimeout(expire, timeouts.downloadMs).unref();
      const combined = AbortSignal.any([signal, timeout.signal]);
      let res: Dispatcher.ResponseData;
      try {
        res = await this.fetchFollowingRedirects(url, combined);
      } catch (error) {
        clearTimeout(timer);
        if (signal.aborted) throw abortError(signal);
        if (isPermanent(error) || error instanceof TransientError) throw error;
        reason = classifyNetworkError(error, timeout.signal.aborted).message;
        if (attempt < attempts) await sleep(this.http.backoffMs(attempt), undefined, { signal });
        continue;
      }
      if (res.statusCode >= 200 && res.statusCode < 300) {
        const body = boundedBody(res, { maxBytes: max, tooLarge, onSettled: () => clearTimeout(timer) });
        if (body.bytes !== undefined && body.bytes / 1024 > timeouts.downloadMs) {
          clearTimeout(timer);
          timer = setTimeout(expire, Math.ceil(body.bytes / 1024)).unref();
        }
        const contentType = body.contentType ?? output.contentType;
        return {
          stream: body.stream,
          ...(body.bytes !== undefined ? { bytes: body.bytes } : {}),
          ...(contentType ? { contentType } : {}),
        };
      }
      const text = await res.body.text().catch(() => '');
      clearTimeout(timer);
      reason = `HTTP ${res.statusCode}`;
      if (res.statusCode === 404 || res.statusCode === 410 || res.statusCode === 403) {
        throw new UserFacingError(
          `the finished video is no longer available at inference.sh (${reason} for ${shown}); run the job again`,
        );
      }
      if (res.statusCode !== 429 && res.statusCode < 500) {
        throw new TransientError(
          `downloading the result from ${shown} failed (${reason}: ${text.slice(0, 200)})`,
        );
      }
      if (attempt < attempts) {
        const wait = this.http.backoffMs(attempt, serverWaitMs(res.headers));
        await sleep(Math.min(wait, this.http.retry.maxWaitMs), undefined, { signal });
      }
    }
    throw new TransientError(
      `downloading the result from ${shown} failed (${this.http.scrub(reason)}) after ${attempts} attempts`,
    );
  }

  /**
   * A plain GET of a result URL (no Authorization: output URLs are unauthenticated and must never see
   * the API key). undici's `request` does not follow redirects, so up to MAX_REDIRECTS hops are
   * followed here, each target checked again with isAllowed before anything is sent to it.
   */
  private async fetchFollowingRedirects(start: URL, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    let url = start;
    for (let hop = 0; ; hop += 1) {
      const res = await request(url, {
        method: 'GET',
        headers: { accept: 'video/mp4,video/*;q=0.9,*/*;q=0.5', 'user-agent': this.options.userAgent },
        signal,
        dispatcher: this.options.dispatcher,
        headersTimeout: this.http.timeouts.jsonMs,
        bodyTimeout: this.http.timeouts.streamSilenceMs,
      });
      const header = res.headers.location;
      const location = Array.isArray(header) ? header[0] : header;
      if (!REDIRECTS.has(res.statusCode) || !location) return res;
      res.body.on('error', () => {}).destroy();
      const from = `${url.protocol}//${url.host}${url.pathname}`;
      if (hop >= MAX_REDIRECTS) {
        throw new TransientError(
          `downloading the result failed: more than ${MAX_REDIRECTS} redirects (the last from ${from})`,
        );
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new TransientError(
          `downloading the result failed: ${from} redirected to an invalid location (${this.http.scrub(location.slice(0, 200))})`,
        );
      }
      if (!this.isAllowed(next)) {
        throw new ConfigurationError(
          `refusing to follow the redirect of the result from ${url.host} to ${next.host}: results are fetched only from the inference.sh API's host, *.inference.sh and the hosts listed in INFERENCE_OUTPUT_HOSTS (add ${next.host} there if it is trusted)`,
        );
      }
      url = next;
    }
  }
}
