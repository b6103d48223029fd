import { z } from 'zod';

/**
 * One job as an admin reviews it later. Only these fields are ever stored: anything else handed in
 * (a whole request, a token, a signed URL) is dropped by the schema, so no secret reaches the log.
 */

const textVerdict = z.discriminatedUnion('status', [
  z.object({ status: z.literal('off') }),
  z.object({ status: z.literal('ok') }),
  z.object({
    status: z.literal('flagged'),
    field: z.enum(['prompt', 'negative_prompt']),
    category: z.enum(['offensive', 'operator', 'server']),
  }),
]);

const imageVerdict = z.discriminatedUnion('status', [
  z.object({ status: z.literal('off') }),
  z.object({ status: z.literal('ok'), explicit: z.number(), suggestive: z.number() }),
  z.object({
    status: z.literal('flagged'),
    category: z.enum(['explicit', 'suggestive']),
    score: z.number(),
    frame: z.number().int().optional(),
  }),
]);

export const AUDIT_OUTCOMES = [
  /** Accepted and waiting or rendering. */
  'queued',
  /** Refused before anything was queued (moderation, caps, quotas, pause). */
  'refused',
  'completed',
  /** Rendered but not posted: a sampled frame was flagged. */
  'withheld',
  'failed',
  'cancelled',
] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

const auditUpdateShape = {
  outcome: z.enum(AUDIT_OUTCOMES),
  /** Why it was refused or failed, in the words shown to the requester. */
  detail: z.string().max(2000),
  /** The seed actually drawn, when it is known only once the job runs. */
  seed: z.number().int(),
  textVerdict,
  inputVerdict: imageVerdict,
  resultVerdict: imageVerdict,
  cost: z.object({ amount: z.number().nonnegative(), currency: z.string().min(1).max(8) }),
};

/** What the service knows when a job is submitted (or refused). */
export const auditSubmissionSchema = z.object({
  jobId: z.string().min(1),
  platform: z.string().min(1),
  /** Discord guild or Slack team; absent in DMs and the CLI. */
  serverId: z.string().min(1).optional(),
  channelId: z.string().min(1).optional(),
  requesterId: z.string().min(1),
  requesterName: z.string().optional(),
  prompt: z.string(),
  negativePrompt: z.string().optional(),
  model: z.string(),
  ...z.object(auditUpdateShape).partial().shape,
});
export type AuditSubmission = z.input<typeof auditSubmissionSchema>;

/** What the worker or the service learns later: verdicts on the result, the outcome, the cost. */
export const auditUpdateSchema = z.object(auditUpdateShape).partial();
export type AuditUpdate = z.input<typeof auditUpdateSchema>;

export const auditRecordSchema = auditSubmissionSchema.extend({
  outcome: z.enum(AUDIT_OUTCOMES),
  submittedAt: z.number(),
  updatedAt: z.number(),
  /** Set when the outcome is final (anything but queued). */
  finishedAt: z.number().optional(),
});
export type AuditRecord = z.infer<typeof auditRecordSchema>;
