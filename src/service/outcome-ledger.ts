import type { GenerationJobData, JobOutcome } from '../core/job.js';
import type { Logger } from '../log.js';
import type { OutcomeListener } from '../queue/delivery.js';
import { personOf } from '../queue/generation-queue.js';
import type { Community } from './community.js';
import type { AuditOutcome } from './moderation/index.js';

const AUDIT_OUTCOME: Record<JobOutcome['kind'], AuditOutcome> = {
  succeeded: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  withheld: 'withheld',
};

function detailOf(outcome: JobOutcome): string | undefined {
  if (outcome.kind === 'failed') return outcome.message;
  if (outcome.kind === 'cancelled') return outcome.by ? `cancelled by ${outcome.by}` : undefined;
  if (outcome.kind === 'withheld') return outcome.notice;
  return undefined;
}

/**
 * What every final outcome settles, wherever it happens (a worker, a cancel in the bot): a
 * reservation the job still holds is released (it never reached the backend, so it costs nothing;
 * a submitted job's reservation was already counted, so this is then a no-op), the audit record
 * gets its outcome and cost, and the person's recent jobs get the entry. Never throws.
 */
export function outcomeLedger(community: Community, log: Logger): OutcomeListener {
  return async (jobId: string, data: GenerationJobData, outcome: JobOutcome) => {
    try {
      await community.quotas.release(data.requester, jobId);
      // Billed: what was delivered or withheld, and what reached the backend before it failed or stopped.
      const billed =
        outcome.kind === 'succeeded' || outcome.kind === 'withheld' || Boolean(data.remote?.taskId);
      const cost = billed ? community.prices.cost(data.request) : undefined;
      const detail = detailOf(outcome);
      await community.audit.update(jobId, {
        outcome: AUDIT_OUTCOME[outcome.kind],
        ...(detail ? { detail: detail.slice(0, 2000) } : {}),
        ...(cost ? { cost } : {}),
        ...(outcome.kind === 'succeeded' ? { seed: outcome.result.seed } : {}),
      });
      const finishedAt = Date.now();
      const place = data.place ? { place: data.place } : {};
      const video =
        outcome.kind === 'succeeded'
          ? {
              jobId,
              finishedAt,
              prompt: data.request.prompt,
              model: data.request.model,
              seed: outcome.result.seed,
              numFrames: data.request.num_frames,
              ...(outcome.result.durationSeconds ? { durationSeconds: outcome.result.durationSeconds } : {}),
              ...place,
            }
          : undefined;
      await community.history.add(
        personOf(data.requester),
        {
          jobId,
          outcome: outcome.kind,
          finishedAt,
          prompt: data.request.prompt,
          model: data.request.model,
          ...place,
          ...(detail ? { detail } : {}),
        },
        video,
      );
    } catch (error) {
      log.warn({ err: error, jobId }, 'could not record the outcome (audit, quota, history)');
    }
  };
}
