import { ConfigurationError } from '../../core/errors.js';

/**
 * How a configured ComfyUI address (`COMFYUI_URL` entry) becomes the URL and headers every request
 * uses, and how it is shown in messages: never with its credentials.
 */

export interface ComfyServerConfig {
  /** Base URL, e.g. `http://gpu1:8188` (a path prefix such as `/api` is kept). */
  url: string;
  /** Extra headers for this server (reverse-proxy auth). Never logged. */
  headers?: Record<string, string>;
}

export const normaliseUrl = (url: string) => url.trim().replace(/\/+$/, '');

/** `host:port` of a URL without credentials, for messages. */
export function displayHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

/**
 * `http://user:pass@host` becomes a Basic `Authorization` header and a URL without credentials, so
 * stored job references and log lines never carry the password.
 */
export function withCredentialsAsHeader(config: ComfyServerConfig): ComfyServerConfig {
  let url: URL;
  try {
    url = new URL(config.url.trim());
  } catch {
    throw new ConfigurationError(`ComfyUI server "${displayHost(config.url)}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigurationError(`ComfyUI server "${displayHost(config.url)}" is not an http(s) URL`);
  }
  const headers = { ...(config.headers ?? {}) };
  if (url.username || url.password) {
    const hasAuth = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
    if (!hasAuth) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    }
    url.username = '';
    url.password = '';
  }
  const text = url.search || url.hash ? url.toString() : `${url.origin}${url.pathname}`;
  return { url: text, headers };
}
