import type { InteractionWebhook } from 'discord.js';

/** Stop using a token a minute before Discord does: a 401 counts toward the invalid-request ban (D8). */
const USABLE_FOR_MS = 14 * 60 * 1000;

/**
 * Statuses that are an interaction's own public reply are edited through the interaction's token
 * while it lives (follow-up routes are not bound to the global rate limit, D1), and with the bot
 * token after that (a non-ephemeral reply can be, D2). The token is kept in memory only: it is a
 * credential, and after a restart the bot token does the job.
 */
export class ReplyTokens {
  private readonly byJob = new Map<string, { webhook: InteractionWebhook; until: number }>();

  set(jobId: string, interaction: { webhook: InteractionWebhook; createdTimestamp: number }): void {
    const now = Date.now();
    for (const [id, entry] of this.byJob) if (entry.until <= now) this.byJob.delete(id);
    this.byJob.set(jobId, {
      webhook: interaction.webhook,
      until: interaction.createdTimestamp + USABLE_FOR_MS,
    });
  }

  /** The reply's webhook while its token may be used; undefined after (or after a restart). */
  get(jobId: string): InteractionWebhook | undefined {
    const entry = this.byJob.get(jobId);
    if (entry && entry.until > Date.now()) return entry.webhook;
    this.byJob.delete(jobId);
    return undefined;
  }

  /** The status moved to another message, the job ended, or Discord said the token is dead. */
  drop(jobId: string): void {
    this.byJob.delete(jobId);
  }
}
