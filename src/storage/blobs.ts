import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { BlobMeta, FileStore, OpenedBlob } from './file-store.js';
import { RedisFileStore } from './redis-files.js';

export type { BlobMeta, OpenedBlob } from './file-store.js';
export { BlobTooLargeError } from './file-store.js';

/**
 * Every stored file (input images, result videos, their stills) goes through here, so the rest of
 * the code neither knows nor cares whether it lives in Redis or in an S3-compatible bucket.
 *
 * Lifetimes: `stored` files (inputs, poster and last frame) are kept for `ttlSeconds`
 * (STORAGE_TTL_DAYS). A `result` video in Redis lives `resultTtlSeconds` (RESULT_TTL_HOURS) and is
 * deleted once delivered (queue/delivery.ts), unless `keep` pinned it for a public link. With
 * object storage everything goes to the bucket and is kept for `ttlSeconds`; files that were in
 * Redis before the bucket was configured stay readable until they expire.
 *
 * A file can be announced before it exists (`expect`: a result's stills, made after its video is
 * posted). While the announcement lasts, a reader that finds no file waits for it instead of
 * taking it for missing (`<prefix>:blob:<name>:coming`, in Redis whichever store holds the file).
 */

export type Lifetime = 'stored' | 'result';

export interface PutOptions {
  /** Larger sources are refused with BlobTooLargeError and leave nothing behind. */
  maxBytes?: number;
  /** Default `stored`. */
  lifetime?: Lifetime;
}

export interface BlobStoreOptions {
  prefix: string;
  ttlSeconds: number;
  /** How long an undelivered result stays in Redis. Default `ttlSeconds`. */
  resultTtlSeconds?: number;
  chunkBytes?: number;
  /** An S3-compatible bucket that takes every new file instead of Redis. */
  objects?: FileStore;
}

/** How often a reader looks again for an announced file. */
const COMING_POLL_MS = 50;

export class BlobStore {
  private readonly redisFiles: RedisFileStore;
  private readonly objects?: FileStore;

  constructor(
    private readonly redis: Redis,
    private readonly options: BlobStoreOptions,
  ) {
    this.redisFiles = new RedisFileStore(redis, { prefix: options.prefix, chunkBytes: options.chunkBytes });
    this.objects = options.objects;
  }

  /** Where new files go. */
  private get primary(): FileStore {
    return this.objects ?? this.redisFiles;
  }

  /** Where a file may still be from before the bucket was configured. */
  private get fallback(): FileStore | undefined {
    return this.objects ? this.redisFiles : undefined;
  }

  get usesObjectStorage(): boolean {
    return Boolean(this.objects);
  }

  put(name: string, data: Buffer, contentType: string, options: PutOptions = {}): Promise<BlobMeta> {
    return this.putStream(name, Readable.from([data]), contentType, options);
  }

  /** Readers see the old file or the whole new one, never half of it. */
  putStream(
    name: string,
    source: AsyncIterable<Buffer | Uint8Array>,
    contentType: string,
    options: PutOptions = {},
  ): Promise<BlobMeta> {
    const shortLived = options.lifetime === 'result' && !this.objects;
    const ttlSeconds = shortLived
      ? (this.options.resultTtlSeconds ?? this.options.ttlSeconds)
      : this.options.ttlSeconds;
    return this.primary.putStream(name, source, contentType, { ttlSeconds, maxBytes: options.maxBytes });
  }

  private comingKey(name: string) {
    return `${this.options.prefix}:blob:${name}:coming`;
  }

  /**
   * Says these files are on their way and will be written within `seconds`: until then (or until
   * `unexpect`), `meta`, `open` and `read` wait for them rather than answer that they do not exist.
   */
  async expect(names: readonly string[], seconds: number): Promise<void> {
    if (names.length === 0) return;
    // One round trip; each announcement stands alone, so no transaction.
    const batch = this.redis.pipeline();
    for (const name of names) batch.set(this.comingKey(name), '1', 'EX', seconds);
    const replies = (await batch.exec()) ?? [];
    const failed = replies.find(([error]) => error);
    if (failed) throw failed[0];
  }

  /** The announced files will not come after all (making them failed): readers stop waiting. */
  async unexpect(names: readonly string[]): Promise<void> {
    if (names.length > 0) await this.redis.del(...names.map((name) => this.comingKey(name)));
  }

  /**
   * Looks up with `find`; a file announced but not there yet is looked up again until it is, or is
   * no longer announced. A plain miss costs one more command.
   */
  private async whenThere<T>(name: string, find: () => Promise<T | undefined>): Promise<T | undefined> {
    for (;;) {
      const found = await find();
      if (found || !(await this.redis.exists(this.comingKey(name)))) return found;
      await sleep(COMING_POLL_MS);
    }
  }

  meta(name: string): Promise<BlobMeta | undefined> {
    return this.whenThere(
      name,
      async () => (await this.primary.meta(name)) ?? (await this.fallback?.meta(name)),
    );
  }

  /** Streams the file; undefined when it expired or never existed (an announced one is waited for). */
  open(name: string): Promise<OpenedBlob | undefined> {
    return this.whenThere(
      name,
      async () => (await this.primary.open(name)) ?? (await this.fallback?.open(name)),
    );
  }

  async read(name: string): Promise<Buffer | undefined> {
    const opened = await this.open(name);
    if (!opened) return undefined;
    const parts: Buffer[] = [];
    for await (const chunk of opened.stream) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  async delete(name: string): Promise<void> {
    await this.primary.delete(name);
    await this.fallback?.delete(name);
  }

  /** Keeps the file at least `seconds` more, and out of `releaseDelivered`'s reach (a public link points to it). */
  async keep(name: string, seconds: number): Promise<boolean> {
    return (await this.primary.keep(name, seconds)) || Boolean(await this.fallback?.keep(name, seconds));
  }

  async close(): Promise<void> {
    await this.objects?.close?.();
  }
}
