import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { BlobTooLargeError } from '../../src/storage/file-store.js';
import { parseStorageUrl, s3SettingsFrom } from '../../src/storage/object-storage.js';
import { S3FileStore } from '../../src/storage/s3-files.js';
import { startLocalS3 } from '../support/s3.js';

const MiB = 1024 * 1024;
const local = await startLocalS3('kinema/files');
const skipReason = 'why' in local ? local.why : undefined;
if (skipReason) console.warn(`skipping the S3 storage tests: ${skipReason}`);

let clock = Date.now();
const store = 'settings' in local ? new S3FileStore(local.settings, { now: () => clock }) : undefined;

afterAll(async () => {
  await store?.close();
  if ('settings' in local) await local.close();
});

async function* pieces(data: Buffer, size: number) {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function keys(): Promise<string[]> {
  if (!store || !('settings' in local)) return [];
  const listed = await store.client.send(
    new ListObjectsV2Command({ Bucket: local.settings.bucket, Prefix: 'kinema/files/' }),
  );
  return (listed.Contents ?? []).map((object) => object.Key!).sort();
}

describe('STORAGE_URL settings', () => {
  it('reads bucket and prefix, and turns path-style URLs on for a custom endpoint unless told', () => {
    expect(parseStorageUrl('s3://videos/kinema/prod/')).toEqual({ bucket: 'videos', prefix: 'kinema/prod' });
    expect(parseStorageUrl('s3://videos')).toEqual({ bucket: 'videos', prefix: '' });
    expect(s3SettingsFrom({ STORAGE_REGION: 'us-east-1' })).toBeUndefined();
    expect(
      s3SettingsFrom({
        STORAGE_URL: 's3://b/p',
        STORAGE_ENDPOINT: 'http://minio:9000',
        STORAGE_REGION: 'auto',
      }),
    ).toMatchObject({ bucket: 'b', prefix: 'p', forcePathStyle: true, credentials: undefined });
    expect(s3SettingsFrom({ STORAGE_URL: 's3://b/p', STORAGE_REGION: 'eu-west-1' })?.forcePathStyle).toBe(
      false,
    );
    expect(
      s3SettingsFrom({
        STORAGE_URL: 's3://b',
        STORAGE_ENDPOINT: 'https://r2.example',
        STORAGE_FORCE_PATH_STYLE: false,
        STORAGE_REGION: 'auto',
        STORAGE_ACCESS_KEY_ID: 'id',
        STORAGE_SECRET_ACCESS_KEY: 'secret',
      }),
    ).toMatchObject({ forcePathStyle: false, credentials: { accessKeyId: 'id', secretAccessKey: 'secret' } });
  });
});

describe.skipIf(!store)(
  skipReason ? `S3FileStore (skipped: ${skipReason})` : 'S3FileStore against a local S3 server (s3rver)',
  () => {
    it('uploads a stream of several parts (multipart) and streams it back', async () => {
      const data = randomBytes(12 * MiB + 321);
      const meta = await store!.putStream('big.mp4', pieces(data, 256 * 1024), 'video/mp4', {
        ttlSeconds: 86_400,
      });
      expect(meta).toEqual({ bytes: data.length, contentType: 'video/mp4' });
      expect(await store!.meta('big.mp4')).toEqual(meta);
      const opened = await store!.open('big.mp4');
      expect(opened?.meta).toEqual(meta);
      expect((await readAll(opened!.stream)).equals(data)).toBe(true);
      expect(await keys()).toContain('kinema/files/big.mp4');
    });

    it('shows an object only once its upload is complete', async () => {
      let resume!: () => void;
      const paused = new Promise<void>((resolve) => {
        resume = resolve;
      });
      const data = randomBytes(11 * MiB);
      async function* slowSource() {
        yield data.subarray(0, 6 * MiB);
        await paused;
        yield data.subarray(6 * MiB);
      }
      const writing = store!.putStream('slow.mp4', slowSource(), 'video/mp4', { ttlSeconds: 86_400 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await store!.open('slow.mp4')).toBeUndefined();
      resume();
      await writing;
      expect((await readAll((await store!.open('slow.mp4'))!.stream)).equals(data)).toBe(true);
    });

    it('refuses a source over maxBytes and leaves no object', async () => {
      const data = randomBytes(8 * MiB);
      await expect(
        store!.putStream('huge.mp4', pieces(data, MiB), 'video/mp4', { ttlSeconds: 60, maxBytes: 6 * MiB }),
      ).rejects.toBeInstanceOf(BlobTooLargeError);
      expect(await keys()).not.toContain('kinema/files/huge.mp4');
      expect(await store!.open('huge.mp4')).toBeUndefined();
    });

    it('treats an object past its TTL as gone, keeps one when asked, and sweeps the expired', async () => {
      const start = clock;
      const put = (name: string, ttlSeconds: number) =>
        store!.putStream(name, pieces(Buffer.from(name), 4), 'image/png', { ttlSeconds });
      await put('short.png', 60);
      await put('linked.png', 60);
      await put('long.png', 86_400);
      expect(await store!.keep('linked.png', 7_200)).toBe(true);
      expect(await store!.keep('absent.png', 7_200)).toBe(false);

      clock = start + 61_000;
      expect(await store!.open('short.png')).toBeUndefined();
      expect(await store!.meta('short.png')).toBeUndefined();
      expect(await store!.keep('short.png', 7_200)).toBe(false);
      expect((await readAll((await store!.open('linked.png'))!.stream)).toString()).toBe('linked.png');

      expect(await store!.sweep()).toBe(1);
      const left = await keys();
      expect(left).not.toContain('kinema/files/short.png');
      expect(left).toEqual(expect.arrayContaining(['kinema/files/linked.png', 'kinema/files/long.png']));

      clock = start + 7_300_000;
      expect(await store!.open('linked.png')).toBeUndefined();
      expect(await store!.open('long.png')).toBeDefined();
      // Objects younger than the given age are not even looked at.
      expect(await store!.sweep(10 * 86_400)).toBe(0);
      expect(await store!.sweep()).toBe(1);
      clock = start;
    });

    it('deletes', async () => {
      await store!.putStream('gone.png', pieces(Buffer.from('x'), 1), 'image/png', { ttlSeconds: 60 });
      await store!.delete('gone.png');
      expect(await store!.open('gone.png')).toBeUndefined();
    });
  },
);
