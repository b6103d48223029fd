import { UserFacingError } from '../core/errors.js';
import type { StoredImage } from '../core/request.js';
import { fetchBounded } from '../media/fetch.js';
import { type ValidatedImage, validateImage } from '../media/image.js';
import type { InputStore } from '../storage/inputs.js';

/** An input image as a platform has it: bytes in hand, a URL to fetch, or one learned only later. */
export type ImageSource =
  | { bytes: Buffer; filename?: string }
  | {
      url: string;
      filename?: string;
      /** Hosts the download (and its redirects) may reach, e.g. the chat platform's CDN. */
      allowedHosts: readonly string[];
      /** Sent to the first host only (fetchBounded), e.g. Slack's bot token. */
      headers?: Record<string, string>;
      /** What the chat platform said about the file, checked before anything is downloaded. */
      declared?: { bytes?: number; contentType?: string | null };
    }
  /** Resolved only once the request passed its checks (e.g. Slack's files.info). */
  | { resolve: () => Promise<ImageSource> };

const MiB = 1024 * 1024;

/**
 * Copies input images to durable storage: chat CDN URLs expire, and a rerun days later must still
 * have the image. The real bytes are checked (an HTML page is not a PNG), whatever the name says.
 */
export class InputImages {
  constructor(
    private readonly inputs: InputStore,
    private readonly maxBytes: number,
    private readonly timeoutMs = 30_000,
  ) {}

  /** `label` names the image in messages: "the end frame is 30.0 MiB; …". */
  async store(source: ImageSource, label = 'image'): Promise<StoredImage> {
    return this.save(await this.load(source, label));
  }

  /** Downloads (if need be) and validates, without storing: moderation looks at it first. */
  async load(source: ImageSource, label = 'image'): Promise<ValidatedImage> {
    if ('resolve' in source) return this.load(await source.resolve(), label);
    const bytes = 'bytes' in source ? source.bytes : await this.download(source, label);
    return validateImage(bytes, { filename: source.filename, maxBytes: this.maxBytes });
  }

  save(image: ValidatedImage): Promise<StoredImage> {
    return this.inputs.save(image);
  }

  /**
   * What is wrong with an image by what the chat platform declared (size, type), before anything is
   * downloaded; pure, so a platform can answer it before it even acknowledges the command.
   */
  declaredProblem(source: ImageSource, label = 'image'): string | undefined {
    if (!('url' in source)) return undefined;
    const declared = source.declared ?? {};
    if (declared.bytes !== undefined && declared.bytes > this.maxBytes) {
      return `the ${label} is ${(declared.bytes / MiB).toFixed(1)} MiB; the limit is ${Math.floor(this.maxBytes / MiB)} MiB`;
    }
    if (declared.contentType && !declared.contentType.startsWith('image/')) {
      return `the ${label} "${source.filename}" is not an image (${declared.contentType}); attach a PNG, JPEG or WebP`;
    }
    return undefined;
  }

  private async download(source: Extract<ImageSource, { url: string }>, label: string): Promise<Buffer> {
    const problem = this.declaredProblem(source, label);
    if (problem) throw new UserFacingError(problem);
    const { bytes } = await fetchBounded(source.url, {
      allowedHosts: source.allowedHosts,
      maxBytes: this.maxBytes,
      timeoutMs: this.timeoutMs,
      ...(source.headers ? { headers: source.headers } : {}),
      label: `the ${label}`,
    });
    return bytes;
  }
}
