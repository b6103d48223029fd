import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  type BlobMeta,
  BlobTooLargeError,
  type FileStore,
  limited,
  type OpenedBlob,
  type StoreWrite,
} from './file-store.js';
import type { S3Settings } from './s3-settings.js';

/**
 * Files in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, …), for operators who keep
 * results for long or link to large videos. Uploads are streamed as multipart uploads (S3 shows an
 * object only once it is complete). S3 has no per-object TTL, so each object carries its expiry in
 * its metadata: an expired object reads as missing, and `sweep` deletes expired objects.
 */

export interface S3FileStoreOptions {
  /** Multipart part size; at most `partBytes` × 2 is buffered per upload. Default 5 MiB (S3's minimum). */
  partBytes?: number;
  /** Runs `sweep` every `intervalMs` (the first after a random delay), looking at objects older than `minAgeSeconds`. */
  sweep?: { intervalMs: number; minAgeSeconds: number; onError: (error: unknown) => void };
  now?: () => number;
}

const EXPIRES = 'kinema-expires-at';

const isMissing = (error: unknown) => {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'NoSuchKey' || name === 'NotFound' || $metadata?.httpStatusCode === 404;
};

export class S3FileStore implements FileStore {
  readonly client: S3Client;
  private readonly now: () => number;
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly settings: S3Settings,
    private readonly options: S3FileStoreOptions = {},
  ) {
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      credentials: settings.credentials,
    });
    this.now = options.now ?? Date.now;
    if (options.sweep) this.startSweeping(options.sweep);
  }

  private key(name: string) {
    return this.settings.prefix ? `${this.settings.prefix}/${name}` : name;
  }

  private expired(metadata: Record<string, string> | undefined): boolean {
    const expiresAt = Number(metadata?.[EXPIRES]);
    return Number.isFinite(expiresAt) && expiresAt <= this.now();
  }

  async putStream(
    name: string,
    source: AsyncIterable<Buffer | Uint8Array>,
    contentType: string,
    write: StoreWrite,
  ): Promise<BlobMeta> {
    const counter = { bytes: 0 };
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.settings.bucket,
        Key: this.key(name),
        Body: Readable.from(limited(source, write.maxBytes ?? Infinity, counter), { objectMode: false }),
        ContentType: contentType,
        Metadata: { [EXPIRES]: String(this.now() + write.ttlSeconds * 1000) },
      },
      partSize: this.options.partBytes ?? 5 * 1024 * 1024,
      queueSize: 2,
    });
    try {
      await upload.done();
    } catch (error) {
      // The upload reports its own clean-up failure (e.g. aborting the multipart upload), not why it stopped.
      if (counter.bytes > (write.maxBytes ?? Infinity)) throw new BlobTooLargeError(write.maxBytes!);
      throw error;
    }
    return { bytes: counter.bytes, contentType };
  }

  async meta(name: string): Promise<BlobMeta | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }),
      );
      if (this.expired(head.Metadata)) return undefined;
      return { bytes: head.ContentLength ?? 0, contentType: head.ContentType ?? 'application/octet-stream' };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async open(name: string): Promise<OpenedBlob | undefined> {
    try {
      const got = await this.client.send(
        new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }),
      );
      const body = got.Body as Readable;
      if (this.expired(got.Metadata)) {
        body.destroy();
        return undefined;
      }
      return {
        meta: { bytes: got.ContentLength ?? 0, contentType: got.ContentType ?? 'application/octet-stream' },
        stream: body,
      };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(name: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }));
  }

  /** Moves the expiry later by copying the object onto itself with new metadata (a server-side copy). */
  async keep(name: string, seconds: number): Promise<boolean> {
    const key = this.key(name);
    let head: { Metadata?: Record<string, string>; ContentType?: string };
    try {
      head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }));
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
    if (this.expired(head.Metadata)) return false;
    const wanted = this.now() + seconds * 1000;
    if (Number(head.Metadata?.[EXPIRES]) >= wanted) return true;
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.settings.bucket,
        Key: key,
        CopySource: `${this.settings.bucket}/${encodeURI(key)}`,
        MetadataDirective: 'REPLACE',
        ContentType: head.ContentType,
        Metadata: { ...head.Metadata, [EXPIRES]: String(wanted) },
      }),
    );
    return true;
  }

  /**
   * Deletes the expired objects under the prefix. Listing is cheap (1,000 keys a request); only
   * objects older than `minAgeSeconds` (the shortest lifetime this store gives) are looked at.
   */
  async sweep(minAgeSeconds = 0): Promise<number> {
    const oldest = this.now() - minAgeSeconds * 1000;
    const prefix = this.settings.prefix ? `${this.settings.prefix}/` : undefined;
    let deleted = 0;
    const pages = paginateListObjectsV2(
      { client: this.client },
      { Bucket: this.settings.bucket, Prefix: prefix },
    );
    for await (const page of pages) {
      const expired: { Key: string }[] = [];
      for (const object of page.Contents ?? []) {
        if (!object.Key || (object.LastModified && object.LastModified.getTime() > oldest)) continue;
        const head = await this.client
          .send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: object.Key }))
          .catch((error) => (isMissing(error) ? undefined : Promise.reject(error)));
        if (head && this.expired(head.Metadata)) expired.push({ Key: object.Key });
      }
      if (expired.length === 0) continue;
      await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: expired, Quiet: true } }),
      );
      deleted += expired.length;
    }
    return deleted;
  }

  private startSweeping({
    intervalMs,
    minAgeSeconds,
    onError,
  }: NonNullable<S3FileStoreOptions['sweep']>): void {
    const run = () => {
      this.sweep(minAgeSeconds).catch(onError);
      this.sweeper = setTimeout(run, intervalMs).unref();
    };
    // Every process sweeps; a random start keeps them from listing the bucket at the same moment.
    this.sweeper = setTimeout(run, Math.random() * intervalMs).unref();
  }

  async close(): Promise<void> {
    clearTimeout(this.sweeper);
    this.client.destroy();
  }
}
