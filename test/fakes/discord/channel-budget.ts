/**
 * Discord's unpublished per-channel budget for message creates and edits (issue 10 item 1). Discord
 * publishes per-route limits in the X-RateLimit-* headers but also enforces limits it does not
 * publish (platform-notes.md D7: 30046's edits of old messages, counted per channel; D8: "do not
 * hard-code limits"). A bot learns this one only by being refused, so the fake never advertises it:
 * successful answers carry only the route bucket's headers, and a refusal is a 429 like Discord's
 * (D8 body and `Retry-After`) with `X-RateLimit-Scope: shared`, the scope of a per-resource limit.
 *
 * Which requests count: every request that puts new content into a message of the channel, through
 * any route, because the budget belongs to the channel, not to the route or the token (D8: limits
 * are per route *and* per top-level resource):
 *   - bot token: `POST /channels/:id/messages` (create), `PATCH /channels/:id/messages/:mid` (edit);
 *   - interaction token: the callback of type 4 (a new message) or 7 (an edit of the component's
 *     message), `POST /webhooks/:app/:token` (a follow-up message) and
 *     `PATCH /webhooks/:app/:token/messages/:mid` (an edit, `@original` included), ephemeral or not.
 * Not counted: the callbacks that only acknowledge (5 and 6 carry no content, and D1 gives the bot
 * 3 s to send them however busy the channel is), modals and autocomplete (8, 9, 12), reads,
 * deletes, reactions and typing.
 */
import type { Json, JsonObject } from './types.js';
import type { World } from './world.js';

export interface ChannelBudgetLimit {
  count: number;
  windowMs: number;
}

/** Discord's figure as measured (issue 10): 5 creates or edits per 5 s in one channel. */
export const DISCORD_CHANNEL_BUDGET: ChannelBudgetLimit = { count: 5, windowMs: 5_000 };

const CONTENT_CALLBACKS = new Set([4, 7]);

/** The channel a request creates or edits a message in, when it counts against the budget. */
export function countedChannel(
  world: World,
  method: string,
  template: string,
  params: Record<string, string>,
  json: Json | undefined,
): string | null {
  switch (`${method} ${template}`) {
    case 'POST /channels/:channel_id/messages':
    case 'PATCH /channels/:channel_id/messages/:message_id':
      return params.channel_id ?? null;
    case 'POST /interactions/:interaction_id/:interaction_token/callback': {
      const type =
        json && typeof json === 'object' && !Array.isArray(json) ? (json as JsonObject).type : null;
      if (typeof type !== 'number' || !CONTENT_CALLBACKS.has(type)) return null;
      return world.interactions.get(params.interaction_id ?? '')?.channelId ?? null;
    }
    case 'POST /webhooks/:application_id/:webhook_token':
    case 'PATCH /webhooks/:application_id/:webhook_token/messages/:message_id':
      return world.interactionsByToken.get(params.webhook_token ?? '')?.channelId ?? null;
    default:
      return null;
  }
}

export type BudgetDecision = { ok: true; refund: () => void } | { ok: false; retryAfterMs: number };

/** A sliding window of accepted operations per channel; refused requests take nothing from it. */
export class ChannelBudget {
  private readonly accepted = new Map<string, number[]>();
  private readonly refusedByChannel = new Map<string, number>();
  private refusedTotal = 0;

  constructor(private readonly limit: ChannelBudgetLimit | false) {}

  /**
   * Takes one operation from the channel's window, or says how long until one is free. Taken before
   * the request runs (so concurrent requests cannot overdraw it); `refund` gives it back when the
   * request fails and so created or edited nothing.
   */
  take(channelId: string, now: number): BudgetDecision {
    if (!this.limit) return { ok: true, refund: () => undefined };
    const { count, windowMs } = this.limit;
    const recent = (this.accepted.get(channelId) ?? []).filter((at) => now - at < windowMs);
    this.accepted.set(channelId, recent);
    const oldest = recent[0];
    if (recent.length >= count && oldest !== undefined) {
      this.refusedTotal += 1;
      this.refusedByChannel.set(channelId, (this.refusedByChannel.get(channelId) ?? 0) + 1);
      return { ok: false, retryAfterMs: oldest + windowMs - now };
    }
    recent.push(now);
    return {
      ok: true,
      refund: () => {
        const current = this.accepted.get(channelId) ?? [];
        const index = current.indexOf(now);
        if (index >= 0) current.splice(index, 1);
      },
    };
  }

  /** 429s this budget served: in one channel, or in all. */
  refused(channelId?: string): number {
    return channelId === undefined ? this.refusedTotal : (this.refusedByChannel.get(channelId) ?? 0);
  }
}
