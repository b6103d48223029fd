import type { FileStore } from './file-store.js';
import type { S3FileStoreOptions } from './s3-files.js';
import type { S3Settings } from './s3-settings.js';

// s3-files.ts reads the settings from ./s3-settings.ts, not from here: this file imports s3-files.ts.
export type { S3Settings } from './s3-settings.js';

/**
 * Optional S3-compatible object storage (STORAGE_URL=s3://bucket/prefix): its settings, and the
 * store itself, loaded in the background because the AWS SDK takes about half a second to import,
 * which deployments that keep files in Redis never pay.
 */

/** `s3://bucket/some/prefix` → bucket and prefix. */
export function parseStorageUrl(url: string): Pick<S3Settings, 'bucket' | 'prefix'> {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url.trim());
  if (!match) throw new Error(`STORAGE_URL must look like s3://bucket/prefix (got ${url})`);
  return { bucket: match[1]!, prefix: match[2]!.replace(/\/+$/, '') };
}

/** The STORAGE_* settings (src/config.ts), as far as object storage reads them. */
export interface ObjectStorageConfig {
  STORAGE_URL?: string;
  STORAGE_ENDPOINT?: string;
  STORAGE_REGION: string;
  STORAGE_FORCE_PATH_STYLE?: boolean;
  STORAGE_ACCESS_KEY_ID?: string;
  STORAGE_SECRET_ACCESS_KEY?: string;
}

/** Undefined when STORAGE_URL is unset (files stay in Redis). */
export function s3SettingsFrom(config: ObjectStorageConfig): S3Settings | undefined {
  if (!config.STORAGE_URL) return undefined;
  const { STORAGE_ACCESS_KEY_ID: accessKeyId, STORAGE_SECRET_ACCESS_KEY: secretAccessKey } = config;
  return {
    ...parseStorageUrl(config.STORAGE_URL),
    endpoint: config.STORAGE_ENDPOINT,
    region: config.STORAGE_REGION,
    // MinIO and most self-hosted servers need path-style URLs; AWS wants virtual-hosted ones.
    forcePathStyle: config.STORAGE_FORCE_PATH_STYLE ?? Boolean(config.STORAGE_ENDPOINT),
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
  };
}

/** The bucket's FileStore; the SDK loads in the background and every call waits for it. */
export function openObjectStorage(settings: S3Settings, options: S3FileStoreOptions = {}): FileStore {
  const loading = import('./s3-files.js').then(({ S3FileStore }) => new S3FileStore(settings, options));
  // A failed load is reported by the first call that needs the store.
  loading.catch(() => undefined);
  return {
    putStream: async (...args) => (await loading).putStream(...args),
    meta: async (name) => (await loading).meta(name),
    open: async (name) => (await loading).open(name),
    delete: async (name) => (await loading).delete(name),
    keep: async (name, seconds) => (await loading).keep(name, seconds),
    close: async () => (await loading.catch(() => undefined))?.close(),
  };
}
