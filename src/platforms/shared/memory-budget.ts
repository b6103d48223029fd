/**
 * A byte-weighted semaphore (issue 10 item 5): the MiB of videos being uploaded at once is capped
 * (UPLOAD_MEMORY_MB) however many deliveries run. Discord uploads of files on disk are streamed
 * (discord/upload.ts); any other goes through discord.js, which reads it whole
 * (DataResolver.resolveFile), so the cap also bounds the memory those hold. First come, first
 * served, so a large video is not overtaken forever by small ones; one larger than the whole budget
 * runs alone.
 */
export class MemoryBudget {
  private used = 0;
  private readonly queue: { bytes: number; resolve: () => void }[] = [];

  constructor(readonly limitBytes: number) {}

  async use<T>(bytes: number, work: () => Promise<T>): Promise<T> {
    await this.acquire(bytes);
    try {
      return await work();
    } finally {
      this.used -= bytes;
      this.admit();
    }
  }

  /** Bytes held right now. */
  get held(): number {
    return this.used;
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limitBytes;
  }

  private acquire(bytes: number): Promise<void> {
    if (this.queue.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.queue.push({ bytes, resolve });
    });
  }

  private admit() {
    while (this.queue.length > 0 && this.fits(this.queue[0]!.bytes)) {
      const next = this.queue.shift()!;
      this.used += next.bytes;
      next.resolve();
    }
  }
}
