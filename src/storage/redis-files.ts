import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import {
  type BlobMeta,
  type FileStore,
  limited,
  type OpenedBlob,
  rechunk,
  type StoreWrite,
} from './file-store.js';

/**
 * Files in the Redis every process already shares: one string key per chunk under a generation id,
 * and a meta key that names the generation. Chunks are written and read with several commands in
 * flight, so a file moves in O(size) at close to the speed of one big SET/GET; the meta key is
 * written last, so a reader sees the whole file or none of it.
 *
 *   `<prefix>:blob:<name>:meta`        {bytes, contentType, chunks, gen, keptUntil?}
 *   `<prefix>:blob:<name>:<gen>:<i>`   chunk i (expires a little after the meta key)
 *   `<prefix>:blob:<name>:data`        files written before chunk keys: one list (read only)
 */

interface RedisMeta extends BlobMeta {
  chunks: number;
  /** Absent on files written as one list by earlier versions. */
  gen?: string;
  /** Epoch ms until which `deleteUnlessKept` leaves the file alone (it has a public link). */
  keptUntil?: number;
}

export interface RedisFileStoreOptions {
  prefix: string;
  /** Default 256 KiB. */
  chunkBytes?: number;
  /** Commands kept in flight while writing and while reading. Default 8. */
  window?: number;
}

/** Chunks outlive their meta key by this much, so a reader that found the meta finds every chunk. */
const CHUNK_GRACE_SECONDS = 120;
/**
 * Chunks are written to live this much longer still, so a write that ends within it needs no
 * second pass over them; a longer one renews their expiry with the meta key.
 */
const REFRESH_AFTER_SECONDS = 60;
/** A replaced generation stays readable this long for readers that are still on it. */
const REPLACED_GRACE_SECONDS = 120;
const DELETE_BATCH = 500;

/**
 * Deletes a file (its meta key, its chunks, an old-style list) at once, unless it is kept past
 * ARGV[2] (epoch ms; '' ignores `keep`): 1 when deleted, 0 when kept. Chunk keys are named from
 * the meta key's generation: ARGV[1] is what precedes `<gen>:<i>`.
 */
const DELETE_FILE = `
local raw = redis.call('GET', KEYS[1])
if raw then
  local meta = cjson.decode(raw)
  if ARGV[2] ~= '' and type(meta.keptUntil) == 'number' and meta.keptUntil > tonumber(ARGV[2]) then
    return 0
  end
  if type(meta.gen) == 'string' then
    for i = 0, meta.chunks - 1 do redis.call('DEL', ARGV[1] .. meta.gen .. ':' .. i) end
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`;

type FilesRedis = Redis & {
  kinemaDeleteFile(...args: string[]): Promise<number>;
};

export class RedisFileStore implements FileStore {
  private readonly chunkBytes: number;
  private readonly window: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisFileStoreOptions,
  ) {
    this.chunkBytes = options.chunkBytes ?? 256 * 1024;
    this.window = options.window ?? 8;
  }

  private metaKey(name: string) {
    return `${this.options.prefix}:blob:${name}:meta`;
  }

  private listKey(name: string) {
    return `${this.options.prefix}:blob:${name}:data`;
  }

  private chunkKeys(name: string, gen: string, count: number, from = 0): string[] {
    return Array.from(
      { length: count - from },
      (_, i) => `${this.options.prefix}:blob:${name}:${gen}:${from + i}`,
    );
  }

  async putStream(
    name: string,
    source: AsyncIterable<Buffer | Uint8Array>,
    contentType: string,
    write: StoreWrite,
  ): Promise<BlobMeta> {
    const gen = randomBytes(6).toString('base64url');
    const counter = { bytes: 0 };
    const inFlight = new InFlight(this.window);
    const startedAt = Date.now();
    const chunkTtl = write.ttlSeconds + CHUNK_GRACE_SECONDS + REFRESH_AFTER_SECONDS;
    let chunks = 0;
    // The last chunk goes with the meta key (a file of one chunk is one round trip).
    let last: Buffer | undefined;
    try {
      for await (const chunk of rechunk(
        limited(source, write.maxBytes ?? Infinity, counter),
        this.chunkBytes,
      )) {
        if (last) {
          const [key] = this.chunkKeys(name, gen, chunks + 1, chunks);
          // Chunks of a writer that dies here expire on their own: no meta key ever names them.
          await inFlight.add(this.redis.set(key!, last, 'EX', chunkTtl));
          chunks += 1;
        }
        last = chunk;
      }
      await inFlight.drain();
      const meta: RedisMeta = { bytes: counter.bytes, contentType, chunks: chunks + (last ? 1 : 0), gen };
      // One connection runs these in order: the meta key appears after every chunk it names.
      const batch = this.redis.pipeline();
      if (Date.now() - startedAt > REFRESH_AFTER_SECONDS * 1000) {
        for (const key of this.chunkKeys(name, gen, chunks)) {
          batch.expire(key, write.ttlSeconds + CHUNK_GRACE_SECONDS);
        }
      }
      if (last) batch.set(this.chunkKeys(name, gen, chunks + 1, chunks)[0]!, last, 'EX', chunkTtl);
      batch.set(this.metaKey(name), JSON.stringify(meta), 'EX', write.ttlSeconds, 'GET');
      const results = await batch.exec();
      for (const [error] of results ?? []) if (error) throw error;
      const previous = results?.at(-1)?.[1];
      // The file is written: a replaced generation left behind only expires later.
      if (typeof previous === 'string') await this.retire(name, parseMeta(previous)).catch(() => undefined);
      return { bytes: meta.bytes, contentType };
    } catch (error) {
      await inFlight.settle();
      await this.deleteKeys(this.chunkKeys(name, gen, chunks + this.window + 1)).catch(() => undefined);
      throw error;
    }
  }

  private async readMeta(name: string): Promise<RedisMeta | undefined> {
    const raw = await this.redis.get(this.metaKey(name));
    return raw ? parseMeta(raw) : undefined;
  }

  async meta(name: string): Promise<BlobMeta | undefined> {
    const meta = await this.readMeta(name);
    return meta ? { bytes: meta.bytes, contentType: meta.contentType } : undefined;
  }

  async open(name: string): Promise<OpenedBlob | undefined> {
    const meta = await this.readMeta(name);
    if (!meta) return undefined;
    const fetchChunk = meta.gen
      ? (index: number) => this.redis.getBuffer(this.chunkKeys(name, meta.gen!, index + 1, index)[0]!)
      : (index: number) => this.redis.lindexBuffer(this.listKey(name), index);
    return {
      meta: { bytes: meta.bytes, contentType: meta.contentType },
      stream: Readable.from(readAhead(name, meta.chunks, this.window, fetchChunk), { objectMode: false }),
    };
  }

  async delete(name: string): Promise<void> {
    await this.deleteFile(name, '');
  }

  /** Deletes the file unless `keep` was asked for it; false when it was kept. */
  async deleteUnlessKept(name: string): Promise<boolean> {
    return (await this.deleteFile(name, String(Date.now()))) === 1;
  }

  /** One round trip (see DELETE_FILE); `keptAfter` '' deletes a kept file too. */
  private deleteFile(name: string, keptAfter: string): Promise<number> {
    if (!('kinemaDeleteFile' in this.redis)) {
      this.redis.defineCommand('kinemaDeleteFile', { numberOfKeys: 2, lua: DELETE_FILE });
    }
    return (this.redis as FilesRedis).kinemaDeleteFile(
      this.metaKey(name),
      this.listKey(name),
      `${this.options.prefix}:blob:${name}:`,
      keptAfter,
    );
  }

  async keep(name: string, seconds: number): Promise<boolean> {
    const meta = await this.readMeta(name);
    if (!meta) return false;
    const remaining = await this.redis.ttl(this.metaKey(name));
    const ttl = Math.max(remaining, seconds);
    const kept: RedisMeta = {
      ...meta,
      keptUntil: Math.max(meta.keptUntil ?? 0, Date.now() + seconds * 1000),
    };
    const multi = this.redis.multi();
    if (meta.gen) {
      for (const key of this.chunkKeys(name, meta.gen, meta.chunks))
        multi.expire(key, ttl + CHUNK_GRACE_SECONDS);
    } else {
      multi.expire(this.listKey(name), ttl + CHUNK_GRACE_SECONDS);
    }
    multi.set(this.metaKey(name), JSON.stringify(kept), 'EX', ttl);
    await multi.exec();
    return true;
  }

  /** Drops a replaced generation's chunks after a grace period, for readers still on it. */
  private async retire(name: string, meta: RedisMeta): Promise<void> {
    if (!meta.gen) {
      await this.redis.del(this.listKey(name));
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const key of this.chunkKeys(name, meta.gen, meta.chunks))
      pipeline.expire(key, REPLACED_GRACE_SECONDS);
    await pipeline.exec();
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      await this.redis.del(...keys.slice(start, start + DELETE_BATCH));
    }
  }
}

function parseMeta(raw: string): RedisMeta {
  return JSON.parse(raw) as RedisMeta;
}

/** Yields chunks in order while the next `window` are already on their way. */
async function* readAhead(
  name: string,
  count: number,
  window: number,
  fetchChunk: (index: number) => Promise<Buffer | null>,
): AsyncGenerator<Buffer> {
  const pending: Promise<Buffer | null>[] = [];
  let next = 0;
  const fill = () => {
    while (next < count && pending.length < window) {
      const request = fetchChunk(next++);
      // Awaited in order below; this only keeps a failure ahead of the reader from going unhandled.
      request.catch(() => undefined);
      pending.push(request);
    }
  };
  fill();
  while (pending.length > 0) {
    const chunk = await pending.shift()!;
    if (!chunk)
      throw new Error(`stored file ${name} is incomplete (it expired or was deleted while being read)`);
    fill();
    yield chunk;
  }
}

/** At most `limit` writes outstanding; the first failure is thrown by the next add or drain. */
class InFlight {
  private readonly pending: Promise<unknown>[] = [];

  constructor(private readonly limit: number) {}

  async add(write: Promise<unknown>): Promise<void> {
    write.catch(() => undefined);
    this.pending.push(write);
    if (this.pending.length >= this.limit) await this.pending.shift();
  }

  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.pending.shift();
  }

  /** Waits for every outstanding write, ignoring failures (before cleaning up after one). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.pending.splice(0));
  }
}
