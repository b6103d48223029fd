import type { Requester, VariantOf } from '../core/job.js';
import { type GenerationRequest, variantSeeds } from '../core/request.js';
import type { VariantState } from '../core/status-text.js';
import type { CancelResult } from '../queue/cancel.js';
import { variantJobId } from '../queue/job-groups.js';
import { quotaRefusal } from './checks.js';
import type { QuotaLimits, Quotas } from './quotas.js';
import { RefusedError } from './refusals.js';

/**
 * A `variants` command as jobs: N jobs of one request with distinct seeds, the first named by the
 * command (the group's lead), counted as N videos against the caps and quotas, all or nothing.
 */

export interface VariantJob {
  jobId: string;
  request: GenerationRequest;
  group: VariantOf;
}

/** The jobs of a group: seed, seed+1… when the user gave one, distinct random seeds otherwise. */
export function planVariants(
  lead: string,
  request: GenerationRequest,
  count: number,
  givenSeed: number | undefined,
): VariantJob[] {
  return variantSeeds(givenSeed, count).map((seed, i) => ({
    jobId: variantJobId(lead, i + 1),
    request: { ...request, seed },
    group: { lead, index: i + 1, size: count },
  }));
}

/** What a group's first status message shows: every video waiting. */
export const waitingVariants = (jobs: VariantJob[]): VariantState[] =>
  jobs.map((job) => ({ index: job.group.index, seed: job.request.seed, state: 'waiting' }));

/**
 * Reserves a quota place for every job of the group, or none: the whole group is refused when one
 * does not fit (unless over-quota jobs may wait in relax mode). Enqueueing reserves each again,
 * which counts it once.
 */
export async function reserveGroup(
  quotas: Quotas,
  requester: Requester,
  jobIds: string[],
  limits: QuotaLimits,
  relax: boolean,
): Promise<void> {
  const reserved: string[] = [];
  for (const jobId of jobIds) {
    const verdict = await quotas.reserve(requester, jobId, limits);
    if (verdict.ok || relax) {
      reserved.push(jobId);
      continue;
    }
    await Promise.all(reserved.map((id) => quotas.release(requester, id).catch(() => undefined)));
    throw new RefusedError(quotaRefusal(verdict, jobIds.length));
  }
}

/** One answer for cancelling a group: it stopped something if any of its jobs was stopped. */
export function groupCancelResult(results: CancelResult[]): CancelResult {
  if (results.includes('signalled')) return 'signalled';
  if (results.includes('removed')) return 'removed';
  return results.includes('finished') ? 'finished' : 'unknown';
}
