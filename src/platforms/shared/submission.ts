import type { StatusView } from '../../core/status-text.js';
import type { GenerationService, QueuePosition, Submitted } from '../../service/generation-service.js';
import type { PlatformFeed } from '../../service/platform-feed.js';

/** What a platform's first status message gave back; `view` is what it shows, when it was posted. */
export interface PostedStatus {
  view?: StatusView;
}

export interface SubmissionSteps<Posted extends PostedStatus> {
  /** service.submit or service.rerun. */
  submit(): Promise<Submitted>;
  /** Posts the status message with the bot token. Throwing means nobody could follow the job. */
  post(submitted: Submitted, position: QueuePosition | undefined): Promise<Posted>;
  /** The platform's words for a failure (refusals, user-facing errors, anything else). */
  explain(error: unknown): string;
}

export type SubmissionResult<Posted> =
  | { ok: true; submitted: Submitted; duplicate: true }
  | { ok: true; submitted: Submitted; duplicate: false; position?: QueuePosition; posted: Posted }
  | { ok: false; text: string };

/**
 * The steps every platform takes after parsing a request: submit, then (unless it was a repeat)
 * post the status message at its queue position and track it. A job whose status could not be
 * posted is withdrawn: a job nobody can follow or cancel is worse than none.
 */
export async function submitAndPost<Posted extends PostedStatus>(
  service: GenerationService,
  feed: PlatformFeed,
  steps: SubmissionSteps<Posted>,
): Promise<SubmissionResult<Posted>> {
  try {
    const submitted = await steps.submit();
    if (submitted.duplicate) return { ok: true, submitted, duplicate: true };
    const position = await service.position(submitted.jobId);
    let posted: Posted;
    try {
      posted = await steps.post(submitted, position);
      if (posted.view) await feed.track(submitted.jobId, posted.view);
    } catch (error) {
      await service.withdraw(submitted.jobId).catch(() => undefined);
      await feed.untrack(submitted.jobId).catch(() => undefined);
      throw error;
    }
    return { ok: true, submitted, duplicate: false, position, posted };
  } catch (error) {
    return { ok: false, text: steps.explain(error) };
  }
}
