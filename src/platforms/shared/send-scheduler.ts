import { telemetry } from '../../core/telemetry.js';

/**
 * The one place where chat messages are sent (issue 10 item 1). Every message create and edit of a
 * platform goes through one scheduler per process, which knows each budget before the platform says
 * no, instead of learning it from 429s:
 *
 * - a *bucket* is one budget: Discord's unpublished 5 creates or edits per 5 s per channel
 *   (platform notes D7–D8), Slack's chat.postMessage per channel or chat.update per workspace (S3);
 * - operations wait in their bucket by priority: the video and the final state first, then a job's
 *   first status, then progress edits, then queue-position refreshes;
 * - operations with the same *key* (one status message) replace each other while they wait (the
 *   latest state wins, keeping the older one's place in line) and never run two at a time, so the
 *   final edit always lands after the progress edit it follows;
 * - the less important classes keep away from the last tokens of a window (progress edits thin out
 *   first), and a position refresh is skipped outright when more important work fills the window;
 * - a 429 that still happens is counted and obeyed: the bucket pauses for its retry-after (for the
 *   class it hit and the less important ones), and the refused operation waits for its turn again.
 *
 * A token is held from the moment an operation starts until `windowMs` after it *finished*: the
 * platform counts a request when it receives it, which is never later than we see its answer, so
 * our window always closes after the platform's.
 */

export type SendPriority = 'urgent' | 'first' | 'progress' | 'position';

const RANK: Record<SendPriority, number> = { urgent: 0, first: 1, progress: 2, position: 3 };
/** Tokens of a window each class (by rank) leaves for the more important ones. */
const RESERVE_BY_RANK = [0, 0, 1, 2];

export interface SendBudget {
  /** Operations allowed per window. */
  count: number;
  windowMs: number;
}

export interface SendRequest<T> {
  /** The budget the operation counts against, e.g. `channel:123` or `update:T0123`. */
  bucket: string;
  /** One message's status: a waiting operation with the same key is replaced, not queued twice. */
  key?: string;
  /**
   * A retry of an operation that already ran (e.g. a move after an edit was refused): when a newer
   * state of the same key is waiting, that one goes instead and this one is dropped.
   */
  yieldToNewer?: boolean;
  priority: SendPriority;
  run: () => Promise<T>;
}

export type SendOutcome<T> =
  | { sent: true; value: T }
  | { sent: false; reason: 'superseded' | 'skipped' | 'closed' };

export interface SendTicket<T> {
  /** False when the operation was skipped at once (a position refresh in a saturated bucket). */
  accepted: boolean;
  outcome: Promise<SendOutcome<T>>;
}

/** Thrown by an operation the platform refused with a 429: the scheduler pauses and retries it. */
export class RateLimitedError extends Error {
  constructor(
    readonly retryAfterMs: number,
    /** The class the pause starts from (default the refused operation's own): less important ones wait too. */
    readonly pauseFrom?: SendPriority,
  ) {
    super(`rate limited for ${retryAfterMs} ms`);
  }
}

export interface SendStats {
  /** Operations that ran. */
  sent: number;
  /** Waiting operations replaced by a newer state of the same message. */
  coalesced: number;
  /** Position refreshes skipped because the bucket was saturated. */
  skipped: number;
  /** 429s the platform still answered (each one obeyed). */
  rateLimited: number;
}

interface Task {
  seq: number;
  key?: string;
  rank: number;
  run: () => Promise<unknown>;
  resolve: (outcome: SendOutcome<unknown>) => void;
  reject: (error: unknown) => void;
}

interface Bucket {
  budget: SendBudget;
  waiting: Task[];
  inFlight: number;
  /** When each recent operation finished. */
  finishedAt: number[];
  pauses: { fromRank: number; until: number }[];
  timer?: NodeJS.Timeout;
}

/** What happened to one operation, for whoever watches (tests, benchmarks). */
export interface SendEvent {
  type: 'queued' | 'started';
  bucket: string;
  key?: string;
  priority: SendPriority;
  at: number;
}

export class SendScheduler {
  readonly stats: SendStats = { sent: 0, coalesced: 0, skipped: 0, rateLimited: 0 };
  private readonly watchers = new Set<(event: SendEvent) => void>();
  private readonly keyWaiters = new Map<string, (() => void)[]>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly runningKeys = new Set<string>();
  private seq = 0;
  private closed = false;

  /**
   * `budget` names the budget of each bucket (read once per bucket); `platform` labels the 429s
   * counted (kinema_chat_rate_limited_total).
   */
  constructor(
    private readonly budget: (bucket: string) => SendBudget,
    private readonly platform = 'chat',
  ) {}

  /** Queues an operation; the ticket says at once whether it was accepted. */
  schedule<T>(request: SendRequest<T>): SendTicket<T> {
    if (this.closed) return { accepted: false, outcome: Promise.resolve({ sent: false, reason: 'closed' }) };
    const bucket = this.bucket(request.bucket);
    const rank = RANK[request.priority];
    let resolve!: (outcome: SendOutcome<unknown>) => void;
    let reject!: (error: unknown) => void;
    const outcome = new Promise<SendOutcome<unknown>>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    const ticket = { accepted: true, outcome: outcome as Promise<SendOutcome<T>> };
    const waiting = request.key ? bucket.waiting.find((task) => task.key === request.key) : undefined;
    if (waiting && request.yieldToNewer) {
      waiting.rank = Math.min(waiting.rank, rank);
      this.sort(bucket);
      resolve({ sent: false, reason: 'superseded' });
      return ticket;
    }
    if (waiting) {
      // The latest state wins; it keeps the older one's place, and the more important class.
      waiting.resolve({ sent: false, reason: 'superseded' });
      this.stats.coalesced += 1;
      Object.assign(waiting, { run: request.run, resolve, reject, rank: Math.min(waiting.rank, rank) });
      this.sort(bucket);
      this.emit('queued', request.bucket, waiting);
    } else if (request.priority === 'position' && this.saturated(bucket)) {
      this.stats.skipped += 1;
      resolve({ sent: false, reason: 'skipped' });
      return { accepted: false, outcome: outcome as Promise<SendOutcome<T>> };
    } else {
      const task = { seq: this.seq++, key: request.key, rank, run: request.run, resolve, reject };
      bucket.waiting.push(task);
      this.sort(bucket);
      this.emit('queued', request.bucket, task);
    }
    this.pump(request.bucket, bucket);
    return ticket;
  }

  send<T>(request: SendRequest<T>): Promise<SendOutcome<T>> {
    return this.schedule(request).outcome;
  }

  /**
   * Runs an operation at once if its bucket has a token free now (for an answer that must go out
   * within a deadline, such as an interaction's first response); undefined when it would wait.
   */
  runNow<T>(bucketName: string, run: () => Promise<T>): Promise<T> | undefined {
    const bucket = this.bucket(bucketName);
    const now = Date.now();
    if (this.closed || this.paused(bucket, RANK.urgent, now) || this.used(bucket, now) >= bucket.budget.count)
      return undefined;
    return new Promise<T>((resolve, reject) => {
      this.start(bucketName, bucket, {
        seq: this.seq++,
        rank: RANK.urgent,
        run,
        resolve: (outcome) =>
          outcome.sent ? resolve(outcome.value as T) : reject(new Error(outcome.reason)),
        reject,
      });
    });
  }

  /** Counts a 429 and pauses the bucket for the class it hit and every less important one. */
  rateLimited(bucketName: string, retryAfterMs: number, hit: SendPriority = 'urgent'): void {
    this.stats.rateLimited += 1;
    telemetry.chatRateLimited({ platform: this.platform });
    const bucket = this.bucket(bucketName);
    bucket.pauses.push({ fromRank: RANK[hit], until: Date.now() + Math.max(0, retryAfterMs) });
    this.pump(bucketName, bucket);
  }

  /** Operations the bucket could start right now. */
  available(bucketName: string): number {
    const bucket = this.bucket(bucketName);
    return Math.max(0, bucket.budget.count - this.used(bucket, Date.now()));
  }

  /** Nothing waiting or running, and the whole budget free. */
  idle(bucketName: string): boolean {
    const bucket = this.bucket(bucketName);
    return bucket.waiting.length === 0 && this.available(bucketName) === bucket.budget.count;
  }

  waiting(bucketName?: string): number {
    if (bucketName !== undefined) return this.buckets.get(bucketName)?.waiting.length ?? 0;
    return [...this.buckets.values()].reduce((sum, bucket) => sum + bucket.waiting.length, 0);
  }

  /** Resolves once no operation with this key waits or runs in the bucket (e.g. a status post). */
  settledKey(bucketName: string, key: string): Promise<void> {
    if (!this.keyBusy(bucketName, key)) return Promise.resolve();
    return new Promise((resolve) => {
      const id = `${bucketName}\n${key}`;
      this.keyWaiters.set(id, [...(this.keyWaiters.get(id) ?? []), resolve]);
    });
  }

  private keyBusy(bucketName: string, key: string): boolean {
    const bucket = this.buckets.get(bucketName);
    return this.runningKeys.has(key) || Boolean(bucket?.waiting.some((task) => task.key === key));
  }

  private wakeKey(bucketName: string, key: string | undefined) {
    const id = `${bucketName}\n${key}`;
    const waiters = key ? this.keyWaiters.get(id) : undefined;
    if (!waiters || (!this.closed && this.keyBusy(bucketName, key!))) return;
    this.keyWaiters.delete(id);
    for (const resolve of waiters) resolve();
  }

  /** Calls `watcher` as operations are queued and started; returns how to stop. */
  watch(watcher: (event: SendEvent) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  private emit(type: SendEvent['type'], bucket: string, task: Task) {
    if (this.watchers.size === 0) return;
    const priority = (Object.keys(RANK) as SendPriority[]).find((name) => RANK[name] === task.rank)!;
    const event = { type, bucket, key: task.key, priority, at: Date.now() };
    for (const watcher of this.watchers) watcher(event);
  }

  /** Waiting operations end as `closed`; running ones finish. */
  close(): void {
    this.closed = true;
    for (const bucket of this.buckets.values()) {
      clearTimeout(bucket.timer);
      for (const task of bucket.waiting.splice(0)) task.resolve({ sent: false, reason: 'closed' });
    }
    for (const waiters of this.keyWaiters.values()) for (const resolve of waiters) resolve();
    this.keyWaiters.clear();
  }

  private bucket(name: string): Bucket {
    let bucket = this.buckets.get(name);
    if (!bucket) {
      bucket = { budget: this.budget(name), waiting: [], inFlight: 0, finishedAt: [], pauses: [] };
      this.buckets.set(name, bucket);
    }
    return bucket;
  }

  private sort(bucket: Bucket) {
    bucket.waiting.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
  }

  private used(bucket: Bucket, now: number): number {
    const { windowMs } = bucket.budget;
    while (bucket.finishedAt.length > 0 && now - bucket.finishedAt[0]! >= windowMs) bucket.finishedAt.shift();
    return bucket.finishedAt.length + bucket.inFlight;
  }

  private paused(bucket: Bucket, rank: number, now: number): boolean {
    bucket.pauses = bucket.pauses.filter((pause) => pause.until > now);
    return bucket.pauses.some((pause) => rank >= pause.fromRank);
  }

  /** More important work already fills the window: a position refresh would only wait. */
  private saturated(bucket: Bucket): boolean {
    const important = bucket.waiting.filter((task) => task.rank < RANK.position).length;
    return important + this.used(bucket, Date.now()) >= bucket.budget.count;
  }

  /** How many of the window's tokens a class may use: never the last ones when there are few. */
  private headroom(bucket: Bucket, rank: number): number {
    return bucket.budget.count - Math.min(RESERVE_BY_RANK[rank] ?? 0, bucket.budget.count - 1);
  }

  private pump(name: string, bucket: Bucket) {
    clearTimeout(bucket.timer);
    bucket.timer = undefined;
    if (this.closed) return;
    for (;;) {
      const now = Date.now();
      const used = this.used(bucket, now);
      const next = bucket.waiting.find(
        (task) =>
          !(task.key && this.runningKeys.has(task.key)) &&
          !this.paused(bucket, task.rank, now) &&
          used < this.headroom(bucket, task.rank),
      );
      if (!next) break;
      bucket.waiting.splice(bucket.waiting.indexOf(next), 1);
      this.start(name, bucket, next);
    }
    this.wakeLater(name, bucket);
  }

  /** Wakes the bucket when a token frees or a pause ends (a finishing operation wakes it anyway). */
  private wakeLater(name: string, bucket: Bucket) {
    if (bucket.waiting.length === 0) return;
    const now = Date.now();
    const times = [
      ...bucket.finishedAt.slice(0, 1).map((at) => at + bucket.budget.windowMs),
      ...bucket.pauses.map((pause) => pause.until),
    ].filter((at) => at > now);
    if (times.length === 0) return;
    const timer = setTimeout(() => this.pump(name, bucket), Math.min(...times) - now + 1);
    timer.unref();
    bucket.timer = timer;
  }

  private start(name: string, bucket: Bucket, task: Task) {
    this.emit('started', name, task);
    bucket.inFlight += 1;
    if (task.key) this.runningKeys.add(task.key);
    const done = (counted: boolean) => {
      bucket.inFlight -= 1;
      if (counted) bucket.finishedAt.push(Date.now());
      if (task.key) this.runningKeys.delete(task.key);
      this.pump(name, bucket);
      this.wakeKey(name, task.key);
    };
    Promise.resolve()
      .then(task.run)
      .then(
        (value) => {
          this.stats.sent += 1;
          done(true);
          task.resolve({ sent: true, value });
        },
        (error: unknown) => {
          if (error instanceof RateLimitedError && !this.closed) {
            this.requeue(bucket, task);
            this.stats.rateLimited += 1;
            telemetry.chatRateLimited({ platform: this.platform });
            const fromRank = error.pauseFrom ? RANK[error.pauseFrom] : task.rank;
            bucket.pauses.push({ fromRank, until: Date.now() + error.retryAfterMs });
            done(false);
            return;
          }
          done(true);
          task.reject(error);
        },
      );
  }

  /** A refused operation waits again, unless a newer state of its message arrived meanwhile. */
  private requeue(bucket: Bucket, task: Task) {
    const newer = task.key ? bucket.waiting.find((other) => other.key === task.key) : undefined;
    if (newer) {
      task.resolve({ sent: false, reason: 'superseded' });
      newer.rank = Math.min(newer.rank, task.rank);
      newer.seq = Math.min(newer.seq, task.seq);
    } else bucket.waiting.push(task);
    this.sort(bucket);
  }
}
