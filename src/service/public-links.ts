import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Redis } from 'ioredis';
import type { BlobStore } from '../storage/blobs.js';

/**
 * Links to stored videos, for results too large for a chat upload. Each link carries a random
 * token, so nobody can walk the store by guessing job ids.
 */
export class PublicLinks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly blobs: BlobStore,
    private readonly baseUrl: string | undefined,
    private readonly ttlSeconds: number,
  ) {}

  get enabled(): boolean {
    return Boolean(this.baseUrl);
  }

  async create(videoKey: string, filename: string): Promise<string | undefined> {
    if (!this.baseUrl) return undefined;
    // The video must outlive its link: pinned, it is neither deleted on delivery nor expires first.
    await this.blobs.keep(videoKey, this.ttlSeconds);
    const token = randomBytes(18).toString('base64url');
    await this.redis.set(`${this.prefix}:public:${token}`, videoKey, 'EX', this.ttlSeconds);
    return `${this.baseUrl.replace(/\/$/, '')}/videos/${token}/${encodeURIComponent(filename)}`;
  }

  /** Serves GET /videos/<token>/<name>; answers false when the path is not ours. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const match = /^\/videos\/([A-Za-z0-9_-]{16,64})\/[^/]+$/.exec(req.url?.split('?')[0] ?? '');
    if (!match || req.method !== 'GET') return false;
    const key = await this.redis.get(`${this.prefix}:public:${match[1]}`);
    const opened = key ? await this.blobs.open(key) : undefined;
    if (!opened) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('This video has expired.');
      return true;
    }
    res.writeHead(200, { 'content-type': opened.meta.contentType, 'content-length': opened.meta.bytes });
    // A blob that expires mid-download ends this response, not the process.
    await pipeline(opened.stream, res).catch(() => res.destroy());
    return true;
  }
}
