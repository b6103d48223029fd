import type { JsonObject } from './types.js';
import { type ApiResult, fail, str } from './web-api-args.js';
import type { SlackWorkspace } from './workspace.js';

/** reactions.add / reactions.remove, as the bot (users' reactions arrive as `reaction_added` events). */
export class ReactionsApi {
  constructor(private readonly ws: SlackWorkspace) {}

  add(args: JsonObject): ApiResult {
    const ch = this.ws.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    const ts = str(args.timestamp);
    const msg = ts ? this.ws.findMessage(ch.channel.id, ts) : undefined;
    if (!msg) return fail('message_not_found');
    const name = str(args.name);
    if (!name || name.includes(':')) return fail('invalid_name');
    msg.reactions ??= [];
    const r = msg.reactions.find((x) => x.name === name);
    if (r?.users.includes(this.ws.botUserId)) return fail('already_reacted');
    if (r) {
      r.users.push(this.ws.botUserId);
      r.count += 1;
    } else msg.reactions.push({ name, users: [this.ws.botUserId], count: 1 });
    return { ok: true };
  }

  remove(args: JsonObject): ApiResult {
    const ch = this.ws.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    const ts = str(args.timestamp);
    const msg = ts ? this.ws.findMessage(ch.channel.id, ts) : undefined;
    if (!msg) return fail('message_not_found');
    const name = str(args.name);
    const r = msg.reactions?.find((x) => x.name === name);
    if (!r?.users.includes(this.ws.botUserId)) return fail('no_reaction');
    r.users = r.users.filter((u) => u !== this.ws.botUserId);
    r.count -= 1;
    if (r.count === 0) msg.reactions = msg.reactions!.filter((x) => x !== r);
    return { ok: true };
  }
}
