/** Where the S3-compatible bucket is and how to reach it (read from STORAGE_* by object-storage.ts). */
export interface S3Settings {
  bucket: string;
  /** Key prefix inside the bucket, without a trailing slash ('' for the bucket's root). */
  prefix: string;
  /** e.g. http://minio:9000 or https://<account>.r2.cloudflarestorage.com; AWS when unset. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** The SDK's default chain (AWS_* variables, instance roles) when unset. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}
