import type { Readable } from 'node:stream';

/**
 * What a place that keeps files (Redis, an S3-compatible bucket) offers. Files are streamed both
 * ways, so no side holds a whole video in memory, and a file becomes visible to readers only once
 * it is completely written.
 */

export interface BlobMeta {
  bytes: number;
  contentType: string;
}

export interface OpenedBlob {
  meta: BlobMeta;
  stream: Readable;
}

export interface StoreWrite {
  /** The file expires this long after it is written. */
  ttlSeconds: number;
  /** Larger sources are refused with BlobTooLargeError and leave nothing behind. */
  maxBytes?: number;
}

export interface FileStore {
  putStream(
    name: string,
    source: AsyncIterable<Buffer | Uint8Array>,
    contentType: string,
    write: StoreWrite,
  ): Promise<BlobMeta>;
  /** Undefined when the file expired or never existed. */
  meta(name: string): Promise<BlobMeta | undefined>;
  open(name: string): Promise<OpenedBlob | undefined>;
  delete(name: string): Promise<void>;
  /** Makes the file live at least `seconds` more; false when it is already gone. */
  keep(name: string, seconds: number): Promise<boolean>;
  close?(): Promise<void>;
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the file is larger than ${Math.round(limit / 1024 / 1024)} MiB`);
    this.name = 'BlobTooLargeError';
  }
}

const asBuffer = (part: Buffer | Uint8Array) => (Buffer.isBuffer(part) ? part : Buffer.from(part));

/** Passes the source through, counting bytes into `counter`, and throws once it exceeds `maxBytes`. */
export async function* limited(
  source: AsyncIterable<Buffer | Uint8Array>,
  maxBytes: number,
  counter: { bytes: number },
): AsyncGenerator<Buffer> {
  for await (const part of source) {
    const buffer = asBuffer(part);
    counter.bytes += buffer.length;
    if (counter.bytes > maxBytes) throw new BlobTooLargeError(maxBytes);
    yield buffer;
  }
}

/** Regroups a byte stream into pieces of exactly `size` bytes (the last one may be shorter). */
export async function* rechunk(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const part of source) {
    parts.push(part);
    held += part.length;
    if (held < size) continue;
    let joined = Buffer.concat(parts, held);
    while (joined.length >= size) {
      yield joined.subarray(0, size);
      joined = joined.subarray(size);
    }
    parts = joined.length > 0 ? [joined] : [];
    held = joined.length;
  }
  if (held > 0) yield Buffer.concat(parts, held);
}
