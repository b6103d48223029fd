import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { JsonObject } from './types.js';

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks);
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headerValue(headers, 'authorization');
  if (auth === undefined) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
  return m?.[1];
}

export interface ParsedFormPart {
  name: string;
  value: string | Buffer;
  filename?: string;
  contentType?: string;
}

/**
 * Multipart parsing through the platform's own (undici) parser, exactly what a server would see from
 * @slack/web-api's `FormData` bodies.
 */
export async function parseMultipart(body: Buffer, contentType: string): Promise<ParsedFormPart[]> {
  const form = await new Response(new Uint8Array(body), {
    headers: { 'content-type': contentType },
  }).formData();
  const parts: ParsedFormPart[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') {
      parts.push({ name, value });
    } else {
      const part: ParsedFormPart = {
        name,
        value: Buffer.from(await value.arrayBuffer()),
        filename: value.name,
      };
      if (value.type) part.contentType = value.type;
      parts.push(part);
    }
  }
  return parts;
}

export type ArgsEncoding = 'json' | 'form' | 'multipart' | 'none';

/** Decode Web API arguments the way slack.com accepts them: query string, form, JSON or multipart. */
export async function parseApiArgs(
  contentType: string | undefined,
  body: Buffer,
  query: URLSearchParams,
): Promise<{ args: JsonObject; encoding: ArgsEncoding; parseError?: string }> {
  const args: JsonObject = {};
  for (const [k, v] of query) args[k] = v;
  const ct = (contentType ?? '').toLowerCase();
  if (body.length === 0) return { args, encoding: 'none' };
  if (ct.startsWith('application/json')) {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return { args, encoding: 'json', parseError: 'invalid_json' };
      }
      Object.assign(args, parsed);
      return { args, encoding: 'json' };
    } catch {
      return { args, encoding: 'json', parseError: 'invalid_json' };
    }
  }
  if (ct.startsWith('multipart/form-data')) {
    try {
      for (const part of await parseMultipart(body, contentType ?? '')) {
        args[part.name] = part.value; // file parts stay Buffers
      }
      return { args, encoding: 'multipart' };
    } catch {
      return { args, encoding: 'multipart', parseError: 'invalid_form_data' };
    }
  }
  // Slack treats anything else as application/x-www-form-urlencoded.
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) args[k] = v;
  return { args, encoding: 'form' };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  contentType = 'text/plain; charset=utf-8',
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * POST with a fresh (non keep-alive) connection, so nothing lingers in a pool after a test: used for
 * the inbound requests "Slack" sends to the app.
 */
export function postRaw(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`inbound request to ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** JSON if it parses, the string if not, undefined when empty. */
export function parseMaybeJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
