/** Faults armed per Web API method: a 429 with Retry-After (Slack's rate limit) or an `{ok:false}` error. */

export interface Fault {
  kind: 'ratelimit' | 'error';
  remaining: number;
  retryAfterSeconds: number;
  error: string;
}

export class Faults {
  private readonly armed = new Map<string, Fault[]>();

  /** The next `times` calls of `method` answer HTTP 429, `Retry-After: retryAfterSeconds`, `{ok:false,error:'ratelimited'}`. */
  rateLimit(method: string, opts: { times?: number; retryAfterSeconds?: number } = {}): void {
    this.push(method, {
      kind: 'ratelimit',
      remaining: opts.times ?? 1,
      retryAfterSeconds: opts.retryAfterSeconds ?? 1,
      error: 'ratelimited',
    });
  }

  /** The next `times` calls of `method` answer HTTP 200 `{ok:false, error}`. */
  failNext(method: string, error: string, times = 1): void {
    this.push(method, { kind: 'error', remaining: times, retryAfterSeconds: 0, error });
  }

  clear(method?: string): void {
    if (method === undefined) this.armed.clear();
    else this.armed.delete(method);
  }

  /** The fault this call of `method` meets, if any (each fault counts down its `times`). */
  take(method: string): Fault | undefined {
    const list = this.armed.get(method);
    const f = list?.[0];
    if (!list || !f) return undefined;
    f.remaining -= 1;
    if (f.remaining <= 0) list.shift();
    return f;
  }

  private push(method: string, fault: Fault): void {
    const list = this.armed.get(method) ?? [];
    list.push(fault);
    this.armed.set(method, list);
  }
}
