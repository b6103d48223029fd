import { setTimeout as sleep } from 'node:timers/promises';
import { TransientError } from '../../core/errors.js';
import type { StoredImage } from '../../core/request.js';
import type { Logger } from '../../log.js';
import { serverWaitMs } from './envelope.js';
import type { InferenceHttp } from './http.js';
import { NetworkError } from './network-error.js';

/**
 * Input images into inference.sh storage (shared/specs/inference-sh-api.md §10.1): `POST /files` for
 * a record with a presigned URL, then a plain PUT of the bytes there, never with the API key.
 */

/** What the uploader needs of the HTTP client. */
export type UploadTransport = Pick<
  InferenceHttp,
  'json' | 'send' | 'scrub' | 'backoffMs' | 'timeouts' | 'retry'
>;

export class InputUploader {
  constructor(private readonly http: UploadTransport) {}

  /** Returns the file's `uri` for the app input; a 403 on the PUT (an expired URL) starts again once. */
  async upload(image: StoredImage, bytes: Buffer, signal: AbortSignal, log: Logger): Promise<string> {
    for (let round = 1; round <= 2; round += 1) {
      const records = await this.http.json<unknown>('POST', '/files', {
        body: {
          files: [{ uri: '', filename: image.filename, content_type: image.contentType, size: bytes.length }],
        },
        mode: 'idempotent',
        signal,
        log,
      });
      const record = (Array.isArray(records) ? records[0] : records) as
        | { uri?: unknown; upload_url?: unknown }
        | undefined;
      if (!record || typeof record.upload_url !== 'string' || !record.upload_url) {
        throw new TransientError('inference.sh created no upload URL for the input image');
      }
      if (typeof record.uri !== 'string' || !record.uri) {
        throw new TransientError('inference.sh returned a file record without a uri for the input image');
      }
      const put = await this.put(record.upload_url, bytes, image.contentType, signal, log);
      if (put === 'stored') return record.uri;
      log.warn({ round }, 'the upload URL was refused (expired?); asking inference.sh for a new one');
    }
    throw new TransientError('the storage of inference.sh refused the input image upload twice (HTTP 403)');
  }

  private async put(
    url: string,
    bytes: Buffer,
    contentType: string,
    signal: AbortSignal,
    log: Logger,
  ): Promise<'stored' | 'refused'> {
    const timeoutMs = Math.max(this.http.timeouts.downloadMs, Math.ceil(bytes.length / 256)); // ≥ 256 KB/s
    const attempts = Math.max(1, this.http.retry.attempts);
    let reason = '';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        // A Buffer body: undici sends Content-Length and no chunked encoding. No Authorization here.
        const res = await this.http.send('PUT', url, {
          headers: {
            'content-type': contentType || 'application/octet-stream',
            'content-length': String(bytes.length),
          },
          body: bytes,
          signal,
          timeoutMs,
          auth: false,
        });
        if (res.status >= 200 && res.status < 300) return 'stored';
        if (res.status === 403) return 'refused';
        reason = `HTTP ${res.status}`;
        if (res.status !== 429 && res.status < 500) {
          throw new TransientError(
            `the storage of inference.sh refused the input image (HTTP ${res.status}: ${this.http.scrub(res.text.slice(0, 200))})`,
          );
        }
        if (attempt < attempts)
          await sleep(this.http.backoffMs(attempt, serverWaitMs(res.headers)), undefined, { signal });
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        reason = error.message;
        log.warn({ attempt, code: error.code }, 'input upload failed at the network level');
        if (attempt < attempts) await sleep(this.http.backoffMs(attempt), undefined, { signal });
      }
    }
    throw new TransientError(`uploading the input image to inference.sh failed (${this.http.scrub(reason)})`);
  }
}
