import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Agent } from 'undici';
import { UserFacingError } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import { openBounded } from '../../media/fetch.js';
import { type HostPolicy, publicAgent } from '../../media/public-host.js';

/**
 * A LoRA given as a URL, made a file ComfyUI can load (spec §10: `LoraLoaderModelOnly` loads a
 * file of `models/loras`; the API has no upload route for that folder, so the worker writes it into
 * the configured loras folder, COMFYUI_LORA_DIR). Each URL is downloaded once: the file is named by
 * the URL's hash and reused by every later job; two jobs asking at once share one download. The
 * download is the user-URL one (public-host.ts): https to a public host after DNS and after every
 * redirect, the connection pinned to the checked address, at most `maxBytes`, within `timeoutMs`.
 * A file appears under its final name only once complete (written aside, then renamed).
 */

export interface LoraFilesOptions {
  /** ComfyUI's `models/loras` folder as this worker sees it (shared with every configured server). */
  dir: string;
  maxBytes: number;
  timeoutMs: number;
  /** FETCH_ALLOW_HOSTS (tests only). */
  policy?: HostPolicy;
  /** Tests: the CA of a fake https server. */
  tls?: { ca?: string | Buffer };
}

/** Subfolder of the loras folder Kinema writes into. */
export const LORA_SUBFOLDER = 'kinema';

const LABEL = 'the LoRA file';

export class LoraFiles {
  private readonly pending = new Map<string, Promise<string>>();
  private agent: Agent | undefined;

  constructor(private readonly options: LoraFilesOptions) {}

  /** The `lora_name` (relative to the loras folder) of `url`'s file, downloaded if not yet on disk. */
  nameFor(url: string, log: Logger): Promise<string> {
    const name = `${LORA_SUBFOLDER}/${createHash('sha256').update(url).digest('hex').slice(0, 32)}.safetensors`;
    let download = this.pending.get(name);
    if (!download) {
      download = this.ensure(url, name, log).finally(() => this.pending.delete(name));
      this.pending.set(name, download);
    }
    return download;
  }

  async close(): Promise<void> {
    await this.agent?.close().catch(() => undefined);
  }

  private async ensure(url: string, name: string, log: Logger): Promise<string> {
    const path = join(this.options.dir, name);
    if (await exists(path)) {
      log.debug({ lora: name }, 'LoRA file already on disk');
      return name;
    }
    await mkdir(join(this.options.dir, LORA_SUBFOLDER), { recursive: true });
    const policy = this.options.policy ?? {};
    this.agent ??= publicAgent(policy, {
      label: LABEL,
      ...(this.options.tls ? { tls: this.options.tls } : {}),
    });
    const opened = await openBounded(url, {
      allowedHosts: [],
      publicOnly: policy,
      dispatcher: this.agent,
      maxBytes: this.options.maxBytes,
      timeoutMs: this.options.timeoutMs,
      label: LABEL,
    });
    const temporary = `${path}.${randomUUID()}.part`;
    const hash = createHash('sha256');
    let bytes = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    try {
      await pipeline(opened.stream, hashing, createWriteStream(temporary));
    } catch (error) {
      await rm(temporary, { force: true });
      throw opened.failure(error);
    }
    if (bytes === 0) {
      await rm(temporary, { force: true });
      throw new UserFacingError(`${LABEL} is empty`);
    }
    await rename(temporary, path);
    log.info({ lora: name, bytes, sha256: hash.digest('hex') }, 'LoRA file downloaded');
    return name;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
