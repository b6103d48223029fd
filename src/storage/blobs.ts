import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';

/**
 * Binary objects kept in the Redis every process already shares, in fixed-size chunks so no side
 * holds a whole video in memory. Workers on other machines reach them with no extra service.
 */

export interface BlobMeta {
  bytes: number;
  contentType: string;
  chunks: number;
}

export interface BlobStoreOptions {
  prefix: string;
  ttlSeconds: number;
  chunkBytes?: number;
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the file is larger than ${Math.round(limit / 1024 / 1024)} MiB`);
    this.name = 'BlobTooLargeError';
  }
}

export class BlobStore {
  private readonly chunkBytes: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: BlobStoreOptions,
  ) {
    this.chunkBytes = options.chunkBytes ?? 256 * 1024;
  }

  private key(name: string, part: 'meta' | 'data') {
    return `${this.options.prefix}:blob:${name}:${part}`;
  }

  async put(name: string, data: Buffer, contentType: string): Promise<BlobMeta> {
    return this.putStream(name, Readable.from([data]), contentType);
  }

  /** Writes under a temporary key and renames at the end, so readers never see half a file. */
  async putStream(
    name: string,
    source: AsyncIterable<Buffer | Uint8Array>,
    contentType: string,
    maxBytes = Infinity,
  ) {
    const tmp = `${name}.partial-${process.pid}-${Date.now()}`;
    const tmpData = this.key(tmp, 'data');
    let bytes = 0;
    let chunks = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (all: boolean) => {
      while (pendingBytes >= this.chunkBytes || (all && pendingBytes > 0)) {
        const joined = Buffer.concat(pending);
        const chunk = joined.subarray(0, this.chunkBytes);
        const rest = joined.subarray(chunk.length);
        await this.redis.rpush(tmpData, chunk);
        chunks += 1;
        pending = rest.length > 0 ? [rest] : [];
        pendingBytes = rest.length;
      }
    };
    try {
      for await (const part of source) {
        const buffer = Buffer.isBuffer(part) ? part : Buffer.from(part);
        bytes += buffer.length;
        if (bytes > maxBytes) throw new BlobTooLargeError(maxBytes);
        pending.push(buffer);
        pendingBytes += buffer.length;
        await flush(false);
      }
      await flush(true);
      const meta: BlobMeta = { bytes, contentType, chunks };
      const ttl = this.options.ttlSeconds;
      const multi = this.redis.multi();
      if (chunks > 0) multi.rename(tmpData, this.key(name, 'data')).expire(this.key(name, 'data'), ttl);
      else multi.del(this.key(name, 'data'));
      multi.set(this.key(name, 'meta'), JSON.stringify(meta), 'EX', ttl);
      await multi.exec();
      return meta;
    } catch (error) {
      await this.redis.del(tmpData);
      throw error;
    }
  }

  async meta(name: string): Promise<BlobMeta | undefined> {
    const raw = await this.redis.get(this.key(name, 'meta'));
    return raw ? (JSON.parse(raw) as BlobMeta) : undefined;
  }

  /** Streams the blob chunk by chunk; undefined when it expired or never existed. */
  async open(name: string): Promise<{ meta: BlobMeta; stream: Readable } | undefined> {
    const meta = await this.meta(name);
    if (!meta) return undefined;
    const redis = this.redis;
    const dataKey = this.key(name, 'data');
    async function* chunks() {
      for (let index = 0; index < meta!.chunks; index += 1) {
        const chunk = await redis.lindexBuffer(dataKey, index);
        if (!chunk) throw new Error(`stored file ${name} is incomplete (it may have expired)`);
        yield chunk;
      }
    }
    return { meta, stream: Readable.from(chunks()) };
  }

  async read(name: string): Promise<Buffer | undefined> {
    const opened = await this.open(name);
    if (!opened) return undefined;
    const parts: Buffer[] = [];
    for await (const chunk of opened.stream) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  async delete(name: string): Promise<void> {
    await this.redis.del(this.key(name, 'meta'), this.key(name, 'data'));
  }
}
