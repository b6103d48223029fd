import type { Redis } from 'ioredis';
import {
  type AuditRecord,
  type AuditSubmission,
  type AuditUpdate,
  auditRecordSchema,
  auditSubmissionSchema,
  auditUpdateSchema,
} from './audit-record.js';

/**
 * The audit log of every job, in Redis, for admins (`/kinema-admin audit`).
 *
 * Keys under `<prefix>:audit:`: `job:<id>`, a hash with one JSON value per field (so an update is
 * one HSET, never a read-modify-write), expiring after the retention; `recent`, a sorted set of job
 * ids by submission time; `server:<id>`, the same per server. Both indexes are trimmed by time on
 * every write (ZREMRANGEBYSCORE) and expire when nothing is written for a whole retention, so no
 * read or write ever scans, whatever the traffic. On Redis Cluster, KINEMA_PREFIX's {hash-tag}
 * keeps a record and its indexes in one slot, as the scripts need.
 */

export interface RecentQuery {
  serverId?: string | undefined;
  /** At most 100. */
  limit: number;
  /** Only records submitted strictly before this time (ms), to page back from the last one seen. */
  before?: number | undefined;
}

const MAX_PAGE = 100;
const DAY_MS = 86_400_000;

/**
 * KEYS: the record, then its indexes. ARGV: now, the cutoff, the retention (ms), the job id, then
 * the record's fields and values.
 */
const CREATE_IF_ABSENT = `
if redis.call('exists', KEYS[1]) == 1 then return 0 end
redis.call('hset', KEYS[1], unpack(ARGV, 5))
redis.call('pexpire', KEYS[1], ARGV[3])
for i = 2, #KEYS do
  redis.call('zadd', KEYS[i], ARGV[1], ARGV[4])
  redis.call('zremrangebyscore', KEYS[i], '-inf', ARGV[2])
  redis.call('pexpire', KEYS[i], ARGV[3])
end
return 1`;

/** Updates an existing record only, keeping its TTL: a late update never recreates an expired one. */
const UPDATE_IF_PRESENT = `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('hset', KEYS[1], unpack(ARGV))
return 1`;

export class AuditLog {
  private readonly retentionMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** AUDIT_RETENTION_DAYS. */
    retentionDays: number,
    private readonly now: () => number = Date.now,
  ) {
    this.retentionMs = retentionDays * DAY_MS;
  }

  /**
   * At submit, or when a request is refused; the outcome defaults to `queued`. The first record of
   * a job id wins (job ids come from chat events, so a redelivered event must not reset a record
   * that has moved on): false when one was already there.
   */
  async recordSubmitted(submission: AuditSubmission): Promise<boolean> {
    const parsed = auditSubmissionSchema.parse(submission);
    const now = this.now();
    const outcome = parsed.outcome ?? 'queued';
    const record: AuditRecord = {
      ...parsed,
      outcome,
      submittedAt: now,
      updatedAt: now,
      ...(outcome === 'queued' ? {} : { finishedAt: now }),
    };
    const indexes = [this.recentKey(), ...(parsed.serverId ? [this.serverKey(parsed.serverId)] : [])];
    const created = await this.redis.eval(
      CREATE_IF_ABSENT,
      1 + indexes.length,
      this.jobKey(parsed.jobId),
      ...indexes,
      now,
      now - this.retentionMs,
      this.retentionMs,
      parsed.jobId,
      ...Object.entries(encode(record)).flat(),
    );
    return created === 1;
  }

  /** Verdicts on the result, the outcome, the cost. False when the record is gone or never was. */
  async update(jobId: string, update: AuditUpdate): Promise<boolean> {
    const parsed = auditUpdateSchema.parse(update);
    const now = this.now();
    const fields: Partial<AuditRecord> = { ...parsed, updatedAt: now };
    if (parsed.outcome && parsed.outcome !== 'queued') fields.finishedAt = now;
    const args = Object.entries(encode(fields)).flat();
    const updated = await this.redis.eval(UPDATE_IF_PRESENT, 1, this.jobKey(jobId), ...args);
    return updated === 1;
  }

  async get(jobId: string): Promise<AuditRecord | undefined> {
    return decode(await this.redis.hgetall(this.jobKey(jobId)));
  }

  /** Newest first. */
  async recent(query: RecentQuery): Promise<AuditRecord[]> {
    const limit = Math.max(0, Math.min(MAX_PAGE, Math.floor(query.limit)));
    if (limit === 0) return [];
    const index = query.serverId ? this.serverKey(query.serverId) : this.recentKey();
    const newest = query.before === undefined ? '+inf' : `(${query.before}`;
    const oldest = this.now() - this.retentionMs;
    const ids = await this.redis.zrevrangebyscore(index, newest, oldest, 'LIMIT', 0, limit);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.jobKey(id));
    const replies = (await pipeline.exec()) ?? [];
    return replies
      .map(([error, hash]) => (error ? undefined : decode(hash as Record<string, string>)))
      .filter((record): record is AuditRecord => record !== undefined);
  }

  private jobKey(jobId: string) {
    return `${this.prefix}:audit:job:${jobId}`;
  }

  private recentKey() {
    return `${this.prefix}:audit:recent`;
  }

  private serverKey(serverId: string) {
    return `${this.prefix}:audit:server:${serverId}`;
  }
}

function encode(record: Partial<AuditRecord>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record)
      .filter(([, value]) => value !== undefined)
      .map(([field, value]) => [field, JSON.stringify(value)]),
  );
}

function decode(hash: Record<string, string>): AuditRecord | undefined {
  if (Object.keys(hash).length === 0) return undefined;
  const fields = Object.fromEntries(Object.entries(hash).map(([field, value]) => [field, JSON.parse(value)]));
  const parsed = auditRecordSchema.safeParse(fields);
  return parsed.success ? parsed.data : undefined;
}
