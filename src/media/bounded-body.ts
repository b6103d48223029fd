import { pipeline, type Readable, Transform } from 'node:stream';

/**
 * The one size limit for every download (chat attachments, inference.sh results, ComfyUI outputs):
 * a response whose Content-Length is over the limit is refused before its body is read, and a body
 * that grows past it fails while streaming, so nothing larger than `maxBytes` is ever held or written.
 */

export interface BoundedBody {
  /** The body, failing with `tooLarge` once it exceeds the limit. */
  stream: Readable;
  /** The declared length, when the server sent one. */
  bytes?: number;
  /** The media type without parameters, when the server sent one. */
  contentType?: string;
}

export interface BoundedBodyOptions {
  maxBytes: number;
  /** The error for a body over the limit; `bytes` is what was declared or counted. */
  tooLarge: (bytes: number) => Error;
  /** Called once the body has ended, failed or been destroyed (e.g. to clear a timer). */
  onSettled?: () => void;
}

type Headers = Record<string, string | string[] | undefined>;

const header = (headers: Headers, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Wraps a response body in the limit; throws `tooLarge` at once when Content-Length is over it. */
export function boundedBody(
  response: { headers: Headers; body: Readable },
  options: BoundedBodyOptions,
): BoundedBody {
  const declared = Number(header(response.headers, 'content-length'));
  const bytes = Number.isFinite(declared) && declared >= 0 ? declared : undefined;
  if (bytes !== undefined && bytes > options.maxBytes) {
    response.body.on('error', () => undefined).destroy();
    options.onSettled?.();
    throw options.tooLarge(bytes);
  }
  let counted = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      counted += chunk.length;
      if (counted > options.maxBytes) callback(options.tooLarge(counted));
      else callback(null, chunk);
    },
  });
  // Errors reach the consumer through `limiter`; the callback only settles.
  pipeline(response.body, limiter, () => options.onSettled?.());
  const contentType = header(response.headers, 'content-type')?.split(';')[0]?.trim();
  return {
    stream: limiter,
    ...(bytes !== undefined ? { bytes } : {}),
    ...(contentType ? { contentType } : {}),
  };
}

/** Reads a (bounded) stream into one buffer. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
