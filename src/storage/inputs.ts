import { randomUUID } from 'node:crypto';
import { UserFacingError } from '../core/errors.js';
import type { StoredImage } from '../core/request.js';
import type { BlobStore } from './blobs.js';

export interface ImageToStore {
  bytes: Buffer;
  contentType: StoredImage['contentType'];
  width: number;
  height: number;
  filename: string;
}

/** Input images, copied at enqueue so reruns days later never depend on an expired chat URL. */
export class InputStore {
  constructor(private readonly blobs: BlobStore) {}

  async save(image: ImageToStore): Promise<StoredImage> {
    const key = `input-${randomUUID()}`;
    const meta = await this.blobs.put(key, image.bytes, image.contentType);
    return {
      key,
      contentType: image.contentType,
      bytes: meta.bytes,
      width: image.width,
      height: image.height,
      filename: image.filename,
    };
  }

  /** Whether the stored copy is still there (kept STORAGE_TTL_DAYS). */
  async exists(image: StoredImage): Promise<boolean> {
    return (await this.blobs.meta(image.key)) !== undefined;
  }

  async read(image: StoredImage): Promise<Buffer> {
    const bytes = await this.blobs.read(image.key);
    if (!bytes) {
      throw new UserFacingError(
        'the stored copy of the input image has expired; start a new /animate with the image attached',
      );
    }
    return bytes;
  }
}
