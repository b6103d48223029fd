import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerValue, parseMaybeJson, readBody, sendJson } from './http-util.js';
import type { EphemeralMessage, FakeMessage, JsonObject, ResponseUrlPost } from './types.js';
import { clone, str } from './web-api-args.js';
import type { SlackWorkspace } from './workspace.js';

/** response_url: a URL per command or action, good for 5 posts in 30 minutes (ephemeral or in channel). */

interface ResponseUrlState {
  id: string;
  url: string;
  createdAt: number;
  uses: number;
  channel?: string;
  user?: string;
}

export class ResponseUrls {
  private readonly byPath = new Map<string, ResponseUrlState>();
  private readonly log: ResponseUrlPost[] = [];

  constructor(private readonly ws: SlackWorkspace) {}

  /** A fresh response_url pointing at the fake. */
  create(kind: 'commands' | 'actions', ctx: { channel?: string; user?: string }): string {
    const id = this.ws.nextId('R');
    const url = `${this.ws.baseUrl}/${kind}/${this.ws.teamId}/${id}/${randomBytes(12).toString('hex')}`;
    const state: ResponseUrlState = { id, url, createdAt: this.ws.now(), uses: 0 };
    if (ctx.channel !== undefined) state.channel = ctx.channel;
    if (ctx.user !== undefined) state.user = ctx.user;
    this.byPath.set(new URL(url).pathname, state);
    return url;
  }

  posts(): ResponseUrlPost[] {
    return this.log.map(clone);
  }

  /** Answers a POST to a response_url; false when the path is none. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const state = this.byPath.get(path);
    if (!state || req.method !== 'POST') return false;
    const raw = (await readBody(req)).toString('utf8');
    const ct = headerValue(req.headers, 'content-type') ?? '';
    let body: unknown;
    if (ct.startsWith('application/json')) body = parseMaybeJson(raw);
    else body = Object.fromEntries(new URLSearchParams(raw));
    const post: ResponseUrlPost = { url: state.url, id: state.id, body, status: 200, at: this.ws.now() };
    let error: string | undefined;
    if (this.ws.now() - state.createdAt > this.ws.rules.responseUrlTtlMs) error = 'expired_url';
    else if (state.uses >= this.ws.rules.responseUrlMaxUses) error = 'used_url';
    else if (body === null || typeof body !== 'object') error = 'invalid_payload';
    if (error) {
      post.status = 404;
      post.error = error;
      this.log.push(post);
      sendJson(res, 404, { ok: false, error });
      return true;
    }
    state.uses += 1;
    this.log.push(post);
    const b = body as JsonObject;
    if (state.channel !== undefined && b.delete_original !== true && b.replace_original !== true) {
      this.show(state.channel, state.user, b);
    }
    sendJson(res, 200, { ok: true });
    return true;
  }

  /** What a response_url post shows: a message in the channel, or an ephemeral one to the user. */
  private show(channel: string, user: string | undefined, b: JsonObject): void {
    const text = str(b.text) ?? '';
    const blocks = Array.isArray(b.blocks) ? (b.blocks as unknown[]) : undefined;
    if (b.response_type === 'in_channel') {
      const msg: FakeMessage = {
        type: 'message',
        channel: this.ws.normalizeChannelId(channel),
        ts: this.ws.nextTs(),
        text,
        ...this.ws.botMessageFields(),
        source: 'response_url',
      };
      if (blocks) msg.blocks = blocks;
      const threadTs = str(b.thread_ts);
      if (threadTs) msg.thread_ts = threadTs;
      this.ws.messageStore.push(msg);
    } else {
      const e: EphemeralMessage = {
        channel,
        user: user ?? this.ws.defaultUserId,
        text,
        message_ts: this.ws.nextTs(),
        source: 'response_url',
      };
      if (blocks) e.blocks = blocks;
      this.ws.ephemeralLog.push(e);
    }
  }
}
