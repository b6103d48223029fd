import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, request } from 'undici';
import { TransientError, UserFacingError } from '../core/errors.js';
import { boundedBody, readAll } from './bounded-body.js';
import { formatBytes } from './image.js';
import { type HostPolicy, publicAddresses } from './public-host.js';

/**
 * Our own connection pool. Without one, undici 7 would install the process-wide global dispatcher,
 * which discord.js's bundled undici 6 then picks up and cannot send its multipart uploads through.
 */
let sharedAgent: Agent | undefined;
const defaultDispatcher = () => (sharedAgent ??= new Agent({ connect: { timeout: 10_000 } }));

/**
 * Bounded downloads of chat attachments: only from allowed hosts (checked again after each
 * redirect), never more than `maxBytes` (refused from Content-Length, aborted while counting), and
 * never longer than `timeoutMs` in total.
 */

export interface FetchBoundedOptions {
  /**
   * Hosts that may be contacted: `cdn.discordapp.com` (that host name, any port),
   * `127.0.0.1:8080` (that host and port), or `.slack.com` (any subdomain of slack.com). Empty
   * with `publicOnly`: any public host.
   */
  allowedHosts: readonly string[];
  maxBytes: number;
  /** Budget for the whole download, redirects and body included. */
  timeoutMs: number;
  /** Sent to the first host and to redirects on the same origin only (a token never leaks elsewhere). */
  headers?: Record<string, string>;
  /** Redirects to follow before giving up. Default 5. */
  maxRedirects?: number;
  /** Words for messages, default "the image": "the image is larger than 25 MiB". */
  label?: string;
  /** Custom undici dispatcher (proxies, tests). */
  dispatcher?: Dispatcher;
  /**
   * A user-supplied URL (public-host.ts): every hop must be `https://` to a public host, checked
   * before each request and again in the connection's own DNS lookup when `dispatcher` is a
   * `publicAgent` of the same policy (give one: it pins the checked address).
   */
  publicOnly?: HostPolicy;
}

export interface FetchedBytes {
  bytes: Buffer;
  contentType?: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Whether `url`'s host is allowed by an entry list (see FetchBoundedOptions.allowedHosts). */
export function isHostAllowed(url: URL, allowedHosts: readonly string[]): boolean {
  const hostname = url.hostname.toLowerCase();
  const host = url.host.toLowerCase();
  return allowedHosts.some((raw) => {
    const entry = raw.trim().toLowerCase();
    if (!entry) return false;
    if (entry.startsWith('.')) return hostname.endsWith(entry) && hostname.length > entry.length;
    return entry === hostname || entry === host;
  });
}

function parseUrl(raw: string | URL, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new UserFacingError('that is not a valid link');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UserFacingError(
      `only http and https links can be downloaded (got ${url.protocol.replace(/:$/, '')})`,
    );
  }
  if (url.username || url.password)
    throw new UserFacingError('links with a user name or password are not allowed');
  return url;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** An open download: its body bounded in size, the whole of it (body included) in time. */
export interface OpenedBody {
  stream: Readable;
  contentType?: string;
  /** The declared length, when the server sent one. */
  bytes?: number;
  /** The error to show for a failure while reading `stream` (too large, timed out, network). */
  failure(error: unknown): Error;
}

/** Downloads `url` into memory within the limits; see FetchBoundedOptions. */
export async function fetchBounded(url: string | URL, options: FetchBoundedOptions): Promise<FetchedBytes> {
  const opened = await openBounded(url, options);
  let bytes: Buffer;
  try {
    bytes = await readAll(opened.stream);
  } catch (error) {
    throw opened.failure(error);
  }
  return { bytes, ...(opened.contentType ? { contentType: opened.contentType } : {}) };
}

/** A user-facing refusal raised inside the connection (the pinned lookup), unwrapped. */
function refusalIn(error: unknown): UserFacingError | undefined {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    if (current instanceof UserFacingError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Opens `url` within the limits (see FetchBoundedOptions) and hands back the bounded body as a
 * stream, for downloads too large to hold in memory; the time budget runs until it is read.
 */
export async function openBounded(url: string | URL, options: FetchBoundedOptions): Promise<OpenedBody> {
  const label = options.label ?? 'the image';
  const maxRedirects = options.maxRedirects ?? 5;
  const tooLarge = () => new UserFacingError(`${label} is larger than ${formatBytes(options.maxBytes)}`);
  const timedOutError = (cause?: unknown) =>
    new UserFacingError(`${label} could not be downloaded in time`, { cause });

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`download timed out after ${options.timeoutMs} ms`));
  }, options.timeoutMs);
  const networkFailure = (error: unknown) =>
    refusalIn(error) ??
    (timedOut
      ? timedOutError(error)
      : new TransientError(`${label} could not be downloaded (${describeNetworkError(error)})`, undefined, {
          cause: error,
        }));

  let settled = false;
  try {
    const first = parseUrl(url);
    let current = first;
    for (let redirects = 0; ; redirects++) {
      const anyPublic = options.publicOnly && options.allowedHosts.length === 0;
      if (!anyPublic && !isHostAllowed(current, options.allowedHosts)) {
        throw new UserFacingError(`the link points to ${current.host}, which is not an allowed host`);
      }
      if (options.publicOnly) {
        if (current.protocol !== 'https:') {
          throw new UserFacingError(
            `${label} must be served over https (a redirect went to ${current.protocol.replace(/:$/, '')})`,
          );
        }
        await publicAddresses(current.hostname, options.publicOnly, label);
      }
      const sameOrigin = current.origin === first.origin;
      let response: Dispatcher.ResponseData;
      try {
        response = await request(current, {
          method: 'GET',
          headers: sameOrigin ? options.headers : undefined,
          signal: controller.signal,
          dispatcher: options.dispatcher ?? defaultDispatcher(),
        });
      } catch (error) {
        throw networkFailure(error);
      }
      const { statusCode, headers, body } = response;

      if (REDIRECTS.has(statusCode)) {
        await body.dump().catch(() => undefined);
        const location = headerValue(headers.location);
        if (!location)
          throw new UserFacingError(`${label} could not be downloaded (a redirect without a target)`);
        if (redirects >= maxRedirects)
          throw new UserFacingError(`${label} could not be downloaded (too many redirects)`);
        current = parseUrl(location, current);
        continue;
      }
      if (statusCode < 200 || statusCode >= 300) {
        await body.dump().catch(() => undefined);
        if (statusCode === 429 || statusCode >= 500) {
          const retryAfter = Number(headerValue(headers['retry-after']));
          throw new TransientError(
            `${label} could not be downloaded (the server answered ${statusCode})`,
            Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined,
          );
        }
        const hint =
          statusCode === 403 || statusCode === 404 || statusCode === 410 ? '; the link may have expired' : '';
        throw new UserFacingError(
          `${label} could not be downloaded (the server answered ${statusCode}${hint})`,
        );
      }

      const bounded = boundedBody(response, {
        maxBytes: options.maxBytes,
        tooLarge,
        onSettled: () => clearTimeout(timer),
      });
      settled = true;
      const contentType = headerValue(headers['content-type']);
      return {
        stream: bounded.stream,
        ...(contentType ? { contentType } : {}),
        ...(bounded.bytes !== undefined ? { bytes: bounded.bytes } : {}),
        failure: (error) => (error instanceof UserFacingError ? error : networkFailure(error)),
      };
    }
  } finally {
    if (!settled) clearTimeout(timer);
  }
}

function describeNetworkError(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'the connection was refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name could not be resolved';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was closed';
  if (typeof code === 'string') return `network error ${code}`;
  return 'network error';
}
