import type { Logger } from '../log.js';
import type { Origin } from './checks.js';
import type { AuditLog, AuditSubmission, ImageVerdict, TextVerdict } from './moderation/index.js';
import { RefusedError, refusalText } from './refusals.js';

/** What the audit log keeps of a request, whatever becomes of it. */
export interface Asked {
  prompt: string;
  negativePrompt?: string | undefined;
  model: string;
  seed?: number;
}

export interface Verdicts {
  text: TextVerdict;
  input?: ImageVerdict | undefined;
}

/**
 * Records a request in the audit log: `queued` once it is in the queue, `refused` (with the words
 * the requester got, and the verdict that refused it) when a check said no. Access refusals are
 * recorded too: an admin sees who tried where. A failure to audit is logged, never shown.
 */
export class AuditTrail {
  constructor(
    private readonly audit: AuditLog,
    private readonly log: Logger,
  ) {}

  private submission(jobId: string, origin: Origin, asked: Asked): AuditSubmission {
    const { requester, place } = origin;
    return {
      jobId,
      platform: requester.platform,
      ...(requester.scopeId ? { serverId: requester.scopeId } : {}),
      channelId: place.channelId,
      requesterId: requester.userId,
      ...(requester.displayName ? { requesterName: requester.displayName } : {}),
      prompt: asked.prompt,
      ...(asked.negativePrompt ? { negativePrompt: asked.negativePrompt } : {}),
      model: asked.model,
      ...(asked.seed !== undefined ? { seed: asked.seed } : {}),
    };
  }

  async queued(jobId: string, origin: Origin, asked: Asked, verdicts: Verdicts): Promise<void> {
    await this.audit
      .recordSubmitted({
        ...this.submission(jobId, origin, asked),
        textVerdict: verdicts.text,
        ...(verdicts.input ? { inputVerdict: verdicts.input } : {}),
      })
      .catch((error) => this.log.warn({ err: error, jobId }, 'could not audit the request'));
  }

  async refused(jobId: string, origin: Origin, asked: Asked, error: RefusedError, input?: ImageVerdict) {
    const { refusal } = error;
    const text: TextVerdict | undefined =
      refusal.reason === 'prompt-blocked'
        ? { status: 'flagged', field: refusal.field, category: refusal.category }
        : undefined;
    await this.audit
      .recordSubmitted({
        ...this.submission(jobId, origin, asked),
        outcome: 'refused',
        detail: refusalText(refusal).slice(0, 2000),
        ...(text ? { textVerdict: text } : {}),
        ...(input ? { inputVerdict: input } : {}),
      })
      .catch((auditError) => this.log.warn({ err: auditError, jobId }, 'could not audit the refusal'));
  }

  /** Runs a submission, recording it as refused when a check refuses it. */
  async around<T>(
    jobId: string,
    origin: Origin,
    asked: Asked,
    work: () => Promise<T>,
    input?: () => ImageVerdict | undefined,
  ) {
    try {
      return await work();
    } catch (error) {
      if (error instanceof RefusedError) await this.refused(jobId, origin, asked, error, input?.());
      throw error;
    }
  }
}
