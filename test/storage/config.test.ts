import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { s3SettingsFrom } from '../../src/storage/object-storage.js';

/** The storage settings (README, Configuration reference), as the environment gives them. */
const base = { INFERENCE_API_KEY: 'inf_test_key_123' };

describe('storage settings', () => {
  it('keep files in Redis by default, undelivered results for 24 hours', () => {
    const config = parseConfig({ ...base, STORAGE_URL: '', STORAGE_FORCE_PATH_STYLE: '' });
    expect(config).toMatchObject({ STORAGE_TTL_DAYS: 30, RESULT_TTL_HOURS: 24, STORAGE_REGION: 'us-east-1' });
    expect(config.STORAGE_URL).toBeUndefined();
    expect(config.STORAGE_FORCE_PATH_STYLE).toBeUndefined();
    expect(s3SettingsFrom(config)).toBeUndefined();
  });

  it('turn an s3:// URL, an endpoint and keys into bucket settings', () => {
    const config = parseConfig({
      ...base,
      RESULT_TTL_HOURS: '6',
      STORAGE_URL: 's3://kinema-videos/prod',
      STORAGE_ENDPOINT: 'http://minio:9000',
      STORAGE_ACCESS_KEY_ID: 'minio',
      STORAGE_SECRET_ACCESS_KEY: 'minio-secret',
    });
    expect(config.RESULT_TTL_HOURS).toBe(6);
    expect(s3SettingsFrom(config)).toEqual({
      bucket: 'kinema-videos',
      prefix: 'prod',
      endpoint: 'http://minio:9000',
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'minio', secretAccessKey: 'minio-secret' },
    });
  });

  it('refuse a storage URL that is not s3://, and one key without the other, without printing the secret', () => {
    expect(() => parseConfig({ ...base, STORAGE_URL: 'https://bucket.example/prefix' })).toThrow(
      /STORAGE_URL must be s3:\/\/bucket\/prefix/,
    );
    expect(() => parseConfig({ ...base, RESULT_TTL_HOURS: '0' })).toThrow(/RESULT_TTL_HOURS/);
    let message = '';
    try {
      parseConfig({ ...base, STORAGE_URL: 's3://b/p', STORAGE_SECRET_ACCESS_KEY: 'very-secret-value' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/STORAGE_ACCESS_KEY_ID is required/);
    expect(message).not.toContain('very-secret-value');
  });
});
