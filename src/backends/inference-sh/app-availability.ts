import type { ModelId } from '../../core/request.js';
import type { Logger } from '../../log.js';
import type { ModelAvailabilitySink } from '../backend.js';

/**
 * What the backend learns about its apps being gone (a 404, wan-apps.md §0: `infsh/wan2-1-i2v` was
 * retired) or answering again, passed on to the sink it was given so new requests for a gone model
 * are refused at once. It also remembers which apps it found gone, so they are looked at again now
 * and then: the record stays fresh while an app stays gone, and clears soon after it comes back.
 */
export class AppAvailability {
  private readonly missing = new Set<ModelId>();
  private lastRecheck = 0;

  constructor(
    private readonly sink: ModelAvailabilitySink | undefined,
    private readonly log: Logger,
    /** How often the apps found gone are looked at again, at most. */
    private readonly recheckMs: number,
  ) {}

  /** The app of a model answered 404 (its record, or a run of it). */
  async gone(model: ModelId, app: string): Promise<void> {
    // What was just found gone needs no second look right away.
    if (this.missing.size === 0) this.lastRecheck = Date.now();
    this.missing.add(model);
    // A pinned version that is gone says nothing about the app; an unpinned app that is gone was retired.
    const reason = app.includes('@') ? `there is no ${app}` : 'the app was retired';
    await this.tell(() => this.sink?.unavailable(model, { service: 'inference.sh', reason }), model);
  }

  /** The app of a model answered: whatever was recorded about it is over. */
  async present(model: ModelId): Promise<void> {
    this.missing.delete(model);
    await this.tell(() => this.sink?.available(model), model);
  }

  /** The models found gone, when it is time to look at them again (at most once per recheckMs). */
  dueForRecheck(now = Date.now()): ModelId[] {
    if (this.missing.size === 0 || now - this.lastRecheck < this.recheckMs) return [];
    this.lastRecheck = now;
    return [...this.missing];
  }

  /** A sink that fails (Redis down) must not fail the job or the check that found the news. */
  private async tell(call: () => Promise<void> | undefined, model: ModelId): Promise<void> {
    try {
      await call();
    } catch (error) {
      this.log.warn({ err: error, model }, 'could not record whether the model is available');
    }
  }
}
