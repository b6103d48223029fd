import type { Redis } from 'ioredis';
import type { GenerationJobData } from '../core/job.js';

export type JobRecord = Pick<
  GenerationJobData,
  'request' | 'requester' | 'reportTo' | 'deliverVia' | 'parentJobId' | 'parentKind' | 'extension' | 'group'
>;

/**
 * What a job asked for, kept after BullMQ has cleaned the job up, so a rerun days later has the
 * request, the stored image and the owner.
 */
export class JobRecords {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private key(jobId: string) {
    return `${this.prefix}:record:${jobId}`;
  }

  /**
   * The write that saves a job's record (a string key expiring after `ttlSeconds`). Enqueueing sends
   * it in the same script as the job's fair turn (FairShare.reserve), so it costs no round trip.
   */
  write(jobId: string, record: JobRecord): { key: string; value: string; ttlSeconds: number } {
    return { key: this.key(jobId), value: JSON.stringify(record), ttlSeconds: this.ttlSeconds };
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const raw = await this.redis.get(this.key(jobId));
    return raw ? (JSON.parse(raw) as JobRecord) : undefined;
  }
}
