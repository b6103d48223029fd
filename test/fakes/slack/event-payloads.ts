import { randomBytes, randomUUID } from 'node:crypto';
import type { HostedFiles } from './hosted-files.js';
import type { EventCallbackPayload, FakeMessage, JsonObject, SlackFile } from './types.js';
import { clone } from './web-api-args.js';
import type { SlackWorkspace } from './workspace.js';

type UserMessage = {
  text?: string;
  files?: SlackFile[];
  channel_id?: string;
  user_id?: string;
  thread_ts?: string;
};

/**
 * What the Events API sends: the URL handshake, and `event_callback` bodies for mentions, messages
 * and reactions. A user's message is stored in its channel first, so later actions can refer to it.
 */
export class EventPayloads {
  constructor(
    private readonly ws: SlackWorkspace,
    private readonly files: HostedFiles,
  ) {}

  /** The Events API request-URL handshake; Bolt answers `{challenge}`. Deliver as `events_api` over HTTP. */
  urlVerification(challenge = randomBytes(16).toString('hex')): JsonObject {
    return { token: this.ws.verificationToken, challenge, type: 'url_verification' };
  }

  /** Wrap an event in an `event_callback` body with a fresh event_id. */
  eventCallback(event: JsonObject): EventCallbackPayload {
    const { ws } = this;
    const sec = Math.floor(ws.now() / 1000);
    return {
      token: ws.verificationToken,
      team_id: ws.teamId,
      context_team_id: ws.teamId,
      context_enterprise_id: null,
      api_app_id: ws.appId,
      event,
      type: 'event_callback',
      event_id: ws.nextId('Ev'),
      event_time: sec,
      authorizations: [
        {
          enterprise_id: null,
          team_id: ws.teamId,
          user_id: ws.botUserId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      is_ext_shared_channel: false,
      event_context: `4-${randomBytes(16).toString('base64url')}`,
    };
  }

  /** A user message stored in the channel (so shortcuts, actions and reactions can refer to it). */
  postUserMessage(p: UserMessage): FakeMessage {
    const { ws } = this;
    const channel = ws.channelRef(p.channel_id ?? ws.defaultChannelId);
    const user = ws.userRef(p.user_id ?? ws.defaultUserId);
    const msg: FakeMessage = {
      type: 'message',
      channel: channel.id,
      ts: ws.nextTs(),
      text: p.text ?? '',
      user: user.id,
      team: ws.teamId,
      client_msg_id: randomUUID(),
      source: 'inbound',
    };
    if (p.files?.length) {
      msg.files = p.files.map(clone);
      msg.upload = true;
      msg.display_as_bot = false;
      for (const f of p.files) {
        const stored = this.files.stored.get(f.id);
        if (stored) stored.file.channels = [...new Set([...(stored.file.channels ?? []), channel.id])];
      }
    }
    if (p.thread_ts) {
      msg.thread_ts = p.thread_ts;
      ws.addReply(ws.findMessage(channel.id, p.thread_ts), msg);
    }
    ws.messageStore.push(msg);
    return clone(msg);
  }

  /** app_mention event_callback (stores the message in the channel). Text defaults to `<@bot> …`. */
  appMention(p: UserMessage = {}): EventCallbackPayload {
    const msg = this.postUserMessage({ ...p, text: p.text ?? `<@${this.ws.botUserId}> animate this` });
    const event: JsonObject = {
      type: 'app_mention',
      user: msg.user,
      text: msg.text,
      ts: msg.ts,
      channel: msg.channel,
      event_ts: msg.ts,
      team: this.ws.teamId,
      client_msg_id: msg.client_msg_id,
    };
    if (msg.files) {
      event.files = msg.files;
      event.upload = true;
      event.display_as_bot = false;
    }
    if (msg.thread_ts) event.thread_ts = msg.thread_ts;
    return this.eventCallback(event);
  }

  /** message event_callback; with files it is the `file_share` subtype Slack sends for uploads. */
  messageEvent(p: UserMessage = {}): EventCallbackPayload {
    const msg = this.postUserMessage(p);
    const c = this.ws.channels.get(msg.channel);
    const event: JsonObject = {
      type: 'message',
      text: msg.text,
      user: msg.user,
      ts: msg.ts,
      channel: msg.channel,
      event_ts: msg.ts,
      channel_type: c?.is_im ? 'im' : c?.is_private ? 'group' : 'channel',
      team: this.ws.teamId,
    };
    if (msg.files) {
      event.subtype = 'file_share';
      event.files = msg.files;
      event.upload = true;
      event.display_as_bot = false;
    } else {
      event.client_msg_id = msg.client_msg_id;
    }
    if (msg.thread_ts) event.thread_ts = msg.thread_ts;
    return this.eventCallback(event);
  }

  /** reaction_added event_callback. `item_user` defaults to the reacted message's author (or the bot). */
  reactionAdded(p: {
    reaction: string;
    item: { channel: string; ts: string };
    item_user?: string;
    user?: string;
  }): EventCallbackPayload {
    const { ws } = this;
    const channel = ws.normalizeChannelId(p.item.channel);
    const target = ws.findMessage(channel, p.item.ts);
    const user = p.user ?? ws.defaultUserId;
    if (target) {
      target.reactions ??= [];
      const r = target.reactions.find((x) => x.name === p.reaction);
      if (r && !r.users.includes(user)) {
        r.users.push(user);
        r.count += 1;
      } else if (!r) target.reactions.push({ name: p.reaction, users: [user], count: 1 });
    }
    return this.eventCallback({
      type: 'reaction_added',
      user,
      reaction: p.reaction,
      item_user: p.item_user ?? target?.user ?? ws.botUserId,
      item: { type: 'message', channel, ts: p.item.ts },
      event_ts: ws.nextTs(),
    });
  }
}
