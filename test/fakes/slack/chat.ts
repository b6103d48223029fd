import type { EphemeralMessage, FakeMessage, JsonObject, MessageUpdate } from './types.js';
import { type ApiResult, clone, fail, jsonArg, str } from './web-api-args.js';
import type { SlackWorkspace } from './workspace.js';

/** chat.postMessage, chat.update (with each message's edit history), chat.postEphemeral, chat.delete. */
export class ChatApi {
  private readonly updateLog = new Map<string, MessageUpdate[]>();

  constructor(private readonly ws: SlackWorkspace) {}

  /** chat.update history of one message, oldest first. */
  updates(channel: string, ts: string): MessageUpdate[] {
    return (this.updateLog.get(`${this.ws.normalizeChannelId(channel)}/${ts}`) ?? []).map(clone);
  }

  private messageContent(
    args: JsonObject,
  ):
    | { error: ApiResult }
    | { text: string | undefined; blocks: unknown[] | undefined; attachments: unknown[] | undefined } {
    const blocks = jsonArg(args.blocks);
    if (!blocks.ok || (blocks.value !== undefined && !Array.isArray(blocks.value)))
      return { error: fail('invalid_blocks') };
    const attachments = jsonArg(args.attachments);
    if (!attachments.ok || (attachments.value !== undefined && !Array.isArray(attachments.value))) {
      return { error: fail('invalid_attachments') };
    }
    if (Array.isArray(blocks.value) && blocks.value.length > 50) return { error: fail('invalid_blocks') };
    const text = str(args.text);
    if (text !== undefined && text.length > 40_000) return { error: fail('msg_too_long') };
    return {
      text,
      blocks: blocks.value as unknown[] | undefined,
      attachments: attachments.value as unknown[] | undefined,
    };
  }

  postMessage(args: JsonObject): ApiResult {
    const ch = this.ws.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    if (!ch.channel.is_member) return fail('not_in_channel');
    const content = this.messageContent(args);
    if ('error' in content) return content.error;
    if (!content.text && !content.blocks?.length && !content.attachments?.length) return fail('no_text');
    const threadTs = str(args.thread_ts);
    const msg: FakeMessage = {
      type: 'message',
      channel: ch.channel.id,
      ts: this.ws.nextTs(),
      text: content.text ?? '',
      ...this.ws.botMessageFields(),
      source: 'chat.postMessage',
    };
    if (content.blocks) msg.blocks = content.blocks;
    if (content.attachments) msg.attachments = content.attachments;
    const metadata = jsonArg(args.metadata);
    if (metadata.ok && metadata.value !== undefined) msg.metadata = metadata.value;
    if (threadTs) {
      msg.thread_ts = threadTs;
      this.ws.addReply(this.ws.findMessage(ch.channel.id, threadTs), msg);
    }
    this.ws.messageStore.push(msg);
    return { ok: true, channel: ch.channel.id, ts: msg.ts, message: this.ws.publicMessage(msg) };
  }

  update(args: JsonObject): ApiResult {
    const ch = this.ws.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    const ts = str(args.ts);
    const msg = ts ? this.ws.findMessage(ch.channel.id, ts) : undefined;
    if (!ts || !msg) return fail('message_not_found');
    if (msg.user !== this.ws.botUserId) return fail('cant_update_message');
    const content = this.messageContent(args);
    if ('error' in content) return content.error;
    if (content.text === undefined && content.blocks === undefined && content.attachments === undefined) {
      return fail('no_text');
    }
    if (content.text !== undefined) msg.text = content.text;
    if (content.blocks !== undefined) msg.blocks = content.blocks;
    if (content.attachments !== undefined) msg.attachments = content.attachments;
    msg.edited = { user: this.ws.botUserId, ts: this.ws.nextTs() };
    const key = `${ch.channel.id}/${ts}`;
    const history = this.updateLog.get(key) ?? [];
    const update: MessageUpdate = { at: this.ws.now(), args: clone(args) };
    if (content.text !== undefined) update.text = content.text;
    if (content.blocks !== undefined) update.blocks = content.blocks;
    if (content.attachments !== undefined) update.attachments = content.attachments;
    history.push(update);
    this.updateLog.set(key, history);
    return { ok: true, channel: ch.channel.id, ts, text: msg.text, message: this.ws.publicMessage(msg) };
  }

  postEphemeral(args: JsonObject): ApiResult {
    const ch = this.ws.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    if (!ch.channel.is_member) return fail('not_in_channel');
    const user = str(args.user);
    if (!user || !this.ws.users.has(user)) return fail('user_not_in_channel');
    const content = this.messageContent(args);
    if ('error' in content) return content.error;
    if (!content.text && !content.blocks?.length && !content.attachments?.length) return fail('no_text');
    const messageTs = this.ws.nextTs();
    const e: EphemeralMessage = {
      channel: ch.channel.id,
      user,
      text: content.text ?? '',
      message_ts: messageTs,
      source: 'chat.postEphemeral',
    };
    if (content.blocks) e.blocks = content.blocks;
    const threadTs = str(args.thread_ts);
    if (threadTs) e.thread_ts = threadTs;
    this.ws.ephemeralLog.push(e);
    return { ok: true, message_ts: messageTs };
  }

  delete(args: JsonObject): ApiResult {
    const ch = this.ws.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    const ts = str(args.ts);
    const msg = ts ? this.ws.findMessage(ch.channel.id, ts) : undefined;
    if (!ts || !msg) return fail('message_not_found');
    if (msg.user !== this.ws.botUserId) return fail('cant_delete_message');
    this.ws.deletedMessages.add(msg);
    return { ok: true, channel: ch.channel.id, ts };
  }
}
