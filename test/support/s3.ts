import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { S3Settings } from '../../src/storage/object-storage.js';

/** A local S3-compatible server (s3rver) with one bucket, on a free port, its files in a temp directory. */
export interface LocalS3 {
  settings: S3Settings;
  close(): Promise<void>;
}

export const TEST_BUCKET = 'kinema-test';

/** `{ why }` when the server cannot start here, so tests can skip and say why. */
export async function startLocalS3(prefix: string): Promise<LocalS3 | { why: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'kinema-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: TEST_BUCKET }],
  });
  try {
    const { port } = await server.run();
    return {
      settings: {
        bucket: TEST_BUCKET,
        prefix,
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        forcePathStyle: true,
        // s3rver's fixed credentials.
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      },
      async close() {
        await server.close();
        await rm(directory, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    return { why: `the local S3 server (s3rver) did not start: ${(error as Error).message}` };
  }
}
