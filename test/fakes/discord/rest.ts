import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChannelBudget, countedChannel } from './channel-budget.js';
import type { Events } from './events.js';
import { Perm } from './permissions.js';
import { snowflake } from './snowflake.js';
import type { AuthKind, FakeRequestLog, Json, JsonObject, RateLimitRule } from './types.js';
import {
  ApiError,
  type AttachmentRec,
  type CommandRec,
  type InteractionRec,
  MessageFlag,
  type MessageRec,
  type ReactionRec,
  type World,
} from './world.js';

interface UploadedFile {
  index: number;
  filename: string;
  contentType: string | null;
  bytes: Buffer;
}

interface Ctx {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  json: Json | undefined;
  files: UploadedFile[];
  auth: AuthKind;
}

interface Reply {
  status: number;
  body?: Json;
}

type Handler = (ctx: Ctx) => Reply | Promise<Reply>;

interface Route {
  method: string;
  template: string;
  segments: string[];
  literalCount: number;
  auth: 'bot' | 'none';
  handler: Handler;
}

const MAX_BODY = 512 * 1024 * 1024;

function ok(body?: Json, status = 200): Reply {
  return body === undefined ? { status: 204 } : { status, body };
}

function formError(path: string[], code: string, message: string): ApiError {
  let errors: JsonObject = { _errors: [{ code, message }] };
  for (const key of [...path].reverse()) errors = { [key]: errors };
  return new ApiError(400, 50035, 'Invalid Form Body', errors);
}

function asObject(json: Json | undefined): JsonObject {
  if (json && typeof json === 'object' && !Array.isArray(json)) return json;
  return {};
}

function parseEmoji(raw: string): { id: string | null; name: string; animated: boolean } {
  const custom = /^(a:)?([\w~-]{1,32}):(\d{15,21})$/.exec(raw);
  if (custom) return { id: custom[3] ?? null, name: custom[2] ?? '', animated: !!custom[1] };
  if (raw.length === 0) throw new ApiError(400, 10014, 'Unknown Emoji');
  return { id: null, name: raw, animated: false };
}

function sameEmoji(r: ReactionRec, e: { id: string | null; name: string }): boolean {
  return e.id ? r.emoji.id === e.id : r.emoji.id === null && r.emoji.name === e.name;
}

export class RestApi {
  readonly requests: FakeRequestLog[] = [];
  readonly rateLimitRules: RateLimitRule[] = [];
  private readonly routes: Route[] = [];
  private readonly buckets = new Map<string, { windowStart: number; count: number }>();
  readonly channelBudget: ChannelBudget;
  /** Every 429 served, whatever the cause. */
  rateLimited = 0;

  constructor(
    private readonly world: World,
    private readonly events: Events,
    private readonly gatewayUrl: () => string,
  ) {
    this.channelBudget = new ChannelBudget(world.opts.channelBudget);
    this.registerRoutes();
  }

  // ================================================================ HTTP entry

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    let rawBody: Buffer;
    try {
      rawBody = await readBody(req);
    } catch {
      res.writeHead(413, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: 'Request entity too large', code: 40005 }));
      return;
    }
    const authHeader = req.headers.authorization;
    const auth: AuthKind =
      authHeader === undefined ? 'none' : authHeader === `Bot ${this.world.token}` ? 'bot' : 'invalid';

    if (/^\/(ephemeral-)?attachments\//.test(url.pathname)) {
      this.serveCdn(method, url, auth, res);
      return;
    }

    const log: FakeRequestLog = {
      method,
      path: url.pathname,
      route: url.pathname,
      query: url.search,
      status: 0,
      code: null,
      auth,
      json: undefined,
      fileCount: 0,
      at: Date.now(),
    };
    this.requests.push(log);
    const headers: Record<string, string> = {};
    const send = (status: number, body?: Json) => {
      log.status = status;
      if (status === 429) this.rateLimited += 1;
      if (
        body &&
        typeof body === 'object' &&
        !Array.isArray(body) &&
        typeof body.code === 'number' &&
        status >= 400
      ) {
        log.code = body.code;
      }
      if (status === 204 || body === undefined) {
        res.writeHead(status, headers);
        res.end();
        return;
      }
      const text = JSON.stringify(body);
      res.writeHead(status, {
        ...headers,
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(text)),
      });
      res.end(text);
    };

    const prefix = '/api/v10';
    if (!url.pathname.startsWith(`${prefix}/`)) {
      send(404, { message: '404: Not Found', code: 0 });
      return;
    }
    const apiPath = url.pathname.slice(prefix.length);
    let segments: string[];
    try {
      segments = apiPath.split('/').slice(1).map(decodeURIComponent);
    } catch {
      send(400, { message: '400: Bad Request', code: 0 });
      return;
    }
    log.path = `/${segments.join('/')}`;
    const match = this.match(method, segments);
    if (!match) {
      const other = this.routes.some((r) => matchSegments(r.segments, segments));
      send(
        other ? 405 : 404,
        other ? { message: '405: Method Not Allowed', code: 0 } : { message: '404: Not Found', code: 0 },
      );
      return;
    }
    const { route, params } = match;
    log.route = route.template;

    // Body.
    let json: Json | undefined;
    let files: UploadedFile[] = [];
    try {
      ({ json, files } = await parseBody(req.headers['content-type'], rawBody));
    } catch {
      send(400, { message: 'The request body contains invalid JSON.', code: 50109 });
      return;
    }
    log.json = json;
    log.fileCount = files.length;

    // Auth.
    if (route.auth === 'bot' && auth !== 'bot') {
      send(401, { message: '401: Unauthorized', code: 0 });
      return;
    }

    // Rate limits: forced 429s first, then the per-bucket window.
    const bucketKey = `${method} ${route.template}`;
    const hash = createHash('sha1').update(bucketKey).digest('hex').slice(0, 32);
    const major = majorParameter(route.template, params);
    const now = Date.now();
    const { bucketLimit, bucketWindowMs } = this.world.opts;
    const stateKey = `${hash}:${major}`;
    let state = this.buckets.get(stateKey);
    if (!state || now - state.windowStart >= bucketWindowMs) {
      state = { windowStart: now, count: 0 };
      this.buckets.set(stateKey, state);
    }
    const resetAt = state.windowStart + bucketWindowMs;
    const setBucketHeaders = (remaining: number) => {
      headers['X-RateLimit-Limit'] = String(bucketLimit);
      headers['X-RateLimit-Remaining'] = String(Math.max(0, remaining));
      headers['X-RateLimit-Reset'] = (resetAt / 1000).toFixed(3);
      headers['X-RateLimit-Reset-After'] = (Math.max(0, resetAt - now) / 1000).toFixed(3);
      headers['X-RateLimit-Bucket'] = hash;
    };

    const rule = this.rateLimitRules.find(
      (r) => r.remaining > 0 && ruleMatches(r.pattern, method, route.template, log.path),
    );
    if (rule) {
      rule.remaining -= 1;
      setBucketHeaders(0);
      headers['X-RateLimit-Reset-After'] = rule.retryAfterSec.toFixed(3);
      headers['X-RateLimit-Reset'] = ((now + rule.retryAfterSec * 1000) / 1000).toFixed(3);
      headers['Retry-After'] = String(rule.retryAfterSec);
      headers['X-RateLimit-Scope'] = rule.scope;
      // Discord sends X-RateLimit-Global only for the global limit; @discordjs/rest treats its mere presence as global.
      if (rule.global) headers['X-RateLimit-Global'] = 'true';
      send(429, {
        message: 'You are being rate limited.',
        retry_after: rule.retryAfterSec,
        global: rule.global,
      });
      return;
    }
    state.count += 1;
    if (state.count > bucketLimit) {
      const retryAfter = Math.max(0, resetAt - now) / 1000;
      setBucketHeaders(0);
      headers['Retry-After'] = String(Math.ceil(retryAfter));
      headers['X-RateLimit-Scope'] = 'user';
      send(429, { message: 'You are being rate limited.', retry_after: retryAfter, global: false });
      return;
    }
    setBucketHeaders(bucketLimit - state.count);

    // The channel's unpublished budget: the headers above say nothing about it (channel-budget.ts).
    const budgetChannel = countedChannel(this.world, method, route.template, params, json);
    const budget = budgetChannel ? this.channelBudget.take(budgetChannel, now) : undefined;
    if (budget && !budget.ok) {
      const retryAfter = Math.max(0.001, budget.retryAfterMs / 1000);
      headers['Retry-After'] = String(Math.ceil(retryAfter));
      headers['X-RateLimit-Scope'] = 'shared';
      send(429, {
        message: 'You are being rate limited.',
        retry_after: Number(retryAfter.toFixed(3)),
        global: false,
      });
      return;
    }

    try {
      const reply = await route.handler({
        method,
        path: log.path,
        params,
        query: url.searchParams,
        json,
        files,
        auth,
      });
      if (reply.status >= 400 && budget?.ok) budget.refund();
      send(reply.status, reply.body);
    } catch (err) {
      if (budget?.ok) budget.refund();
      if (err instanceof ApiError) {
        const body: JsonObject = { message: err.message, code: err.code };
        if (err.errors !== undefined) body.errors = err.errors;
        send(err.status, body);
      } else {
        send(500, { message: `500: Internal Server Error (fake: ${(err as Error).message})`, code: 0 });
      }
    }
  }

  private match(method: string, segments: string[]): { route: Route; params: Record<string, string> } | null {
    let best: { route: Route; params: Record<string, string> } | null = null;
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const params = matchSegments(route.segments, segments);
      if (params && (!best || route.literalCount > best.route.literalCount)) best = { route, params };
    }
    return best;
  }

  private add(method: string, template: string, auth: 'bot' | 'none', handler: Handler): void {
    const segments = template.split('/').slice(1);
    this.routes.push({
      method,
      template,
      segments,
      literalCount: segments.filter((s) => !s.startsWith(':')).length,
      auth,
      handler,
    });
  }

  // ================================================================ CDN

  private serveCdn(method: string, url: URL, auth: AuthKind, res: ServerResponse): void {
    const log: FakeRequestLog = {
      method,
      path: url.pathname,
      route: '/attachments/:channel_id/:attachment_id/:filename',
      query: url.search,
      status: 404,
      code: null,
      auth,
      json: undefined,
      fileCount: 0,
      at: Date.now(),
    };
    this.requests.push(log);
    const parts = url.pathname.split('/');
    const attachment = this.world.attachments.get(parts[3] ?? '');
    const valid =
      (method === 'GET' || method === 'HEAD') &&
      attachment !== undefined &&
      this.world.attachmentPath(attachment) === url.pathname &&
      this.world.attachmentAvailable(attachment) &&
      this.world.signer.verify(url.pathname, url.searchParams, attachment.generation, Date.now());
    if (!valid || !attachment) {
      const text = 'This content is no longer available.';
      res.writeHead(404, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': String(text.length),
      });
      res.end(method === 'HEAD' ? undefined : text);
      return;
    }
    log.status = 200;
    res.writeHead(200, {
      'Content-Type': attachment.contentType ?? 'application/octet-stream',
      'Content-Length': String(attachment.size),
      'Cache-Control': 'public, max-age=31536000',
    });
    res.end(method === 'HEAD' ? undefined : attachment.bytes);
  }

  // ================================================================ shared helpers

  private bot(): string {
    return this.world.botUserId;
  }

  /** Builds the attachment list for a create (existing = []) or an edit. Checks the upload limit first. */
  private resolveAttachments(
    channelId: string,
    body: JsonObject,
    files: UploadedFile[],
    existing: AttachmentRec[],
    limit: number,
    ephemeral: boolean,
  ): AttachmentRec[] {
    for (const f of files) {
      if (f.bytes.length > limit) throw new ApiError(413, 40005, 'Request entity too large');
    }
    const entries = Array.isArray(body.attachments) ? body.attachments : null;
    const used = new Set<number>();
    const out: AttachmentRec[] = [];
    const host = (f: UploadedFile, entry: JsonObject | null) => {
      used.add(f.index);
      const filename = typeof entry?.filename === 'string' ? entry.filename : f.filename;
      const description = typeof entry?.description === 'string' ? entry.description : undefined;
      const input = { bytes: f.bytes, filename, ...(f.contentType ? { contentType: f.contentType } : {}) };
      out.push(
        this.world.hostAttachment(channelId, description ? { ...input, description } : input, ephemeral),
      );
    };
    if (entries) {
      for (const [i, raw] of entries.entries()) {
        const entry = asObject(raw);
        const id = entry.id === undefined ? undefined : String(entry.id);
        const kept = existing.find((a) => a.id === id);
        if (kept) {
          out.push(kept);
          continue;
        }
        const file = files.find((f) => String(f.index) === id);
        if (!file)
          throw formError(['attachments', String(i), 'id'], 'ATTACHMENT_NOT_FOUND', 'Unknown attachment');
        host(file, entry);
      }
    } else {
      out.push(...existing);
    }
    for (const f of files) if (!used.has(f.index)) host(f, null);
    if (out.length > 10)
      throw formError(['attachments'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
    return out;
  }

  /** Validates content/embeds/components of a message body. */
  private validateMessageBody(body: JsonObject, flags: number): void {
    if (body.content !== undefined && body.content !== null) {
      if (typeof body.content !== 'string')
        throw formError(['content'], 'BASE_TYPE_STRING', 'Must be a string.');
      if ([...body.content].length > 2000) {
        throw formError(['content'], 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
      }
    }
    if (Array.isArray(body.embeds) && body.embeds.length > 10) {
      throw formError(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
    }
    if (Array.isArray(body.components)) {
      const v2 = (flags & MessageFlag.IsComponentsV2) !== 0;
      if (
        v2 &&
        ((typeof body.content === 'string' && body.content.length > 0) ||
          (Array.isArray(body.embeds) && body.embeds.length > 0))
      ) {
        throw formError(
          ['content'],
          'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2',
          'The content and embeds fields cannot be used when using components v2',
        );
      }
      if (!v2 && body.components.length > 5) {
        throw formError(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
      }
      const seen = new Set<string>();
      const walk = (node: Json, path: string[]) => {
        if (Array.isArray(node)) {
          for (const [i, n] of node.entries()) walk(n, [...path, String(i)]);
          return;
        }
        if (!node || typeof node !== 'object') return;
        if (!v2 && node.type === 1 && Array.isArray(node.components) && node.components.length > 5) {
          throw formError([...path, 'components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
        }
        if (typeof node.custom_id === 'string') {
          if (node.custom_id.length < 1 || node.custom_id.length > 100) {
            throw formError(
              [...path, 'custom_id'],
              'BASE_TYPE_BAD_LENGTH',
              'Must be between 1 and 100 in length.',
            );
          }
          if (seen.has(node.custom_id)) {
            throw formError(
              [...path, 'custom_id'],
              'COMPONENT_CUSTOM_ID_DUPLICATED',
              'Component custom id cannot be duplicated',
            );
          }
          seen.add(node.custom_id);
        }
        if (node.components !== undefined) walk(node.components, [...path, 'components']);
        if (node.accessory !== undefined) walk(node.accessory, [...path, 'accessory']);
      };
      walk(body.components, ['components']);
    }
  }

  private isEmpty(m: {
    content: string;
    embeds: Json[];
    attachments: AttachmentRec[];
    components: Json[];
  }): boolean {
    return (
      m.content.length === 0 &&
      m.embeds.length === 0 &&
      m.attachments.length === 0 &&
      m.components.length === 0
    );
  }

  private createFromBody(
    ctx: Ctx,
    channelId: string,
    extra: {
      authorId: string;
      limit: number;
      allowedFlags: number;
      webhookId?: string | null;
      applicationId?: string | null;
      interactionId?: string | null;
      type?: number;
    },
  ): MessageRec {
    const body = asObject(ctx.json);
    const flags = (typeof body.flags === 'number' ? body.flags : 0) & extra.allowedFlags;
    this.validateMessageBody(body, flags);
    const ephemeral = (flags & MessageFlag.Ephemeral) !== 0;
    const attachments = this.resolveAttachments(channelId, body, ctx.files, [], extra.limit, ephemeral);
    const draft = {
      content: typeof body.content === 'string' ? body.content : '',
      embeds: Array.isArray(body.embeds) ? body.embeds : [],
      components: Array.isArray(body.components) ? body.components : [],
      attachments,
    };
    const hasStickers = Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0;
    if (this.isEmpty(draft) && !hasStickers && !body.poll) {
      throw new ApiError(400, 50006, 'Cannot send an empty message');
    }
    const reference = body.message_reference ?? null;
    return this.world.createMessage({
      channelId,
      authorId: extra.authorId,
      ...draft,
      flags,
      type: extra.type ?? (reference ? 19 : 0),
      webhookId: extra.webhookId ?? null,
      applicationId: extra.applicationId ?? null,
      ephemeral,
      interactionId: extra.interactionId ?? null,
      messageReference: reference,
      nonce: body.nonce ?? null,
      tts: body.tts === true,
    });
  }

  private applyEdit(m: MessageRec, ctx: Ctx, limit: number): void {
    const body = asObject(ctx.json);
    const flags =
      typeof body.flags === 'number'
        ? (m.flags & ~(MessageFlag.SuppressEmbeds | MessageFlag.IsComponentsV2)) |
          (body.flags & (MessageFlag.SuppressEmbeds | MessageFlag.IsComponentsV2))
        : m.flags;
    this.validateMessageBody(body, flags);
    const attachments =
      body.attachments !== undefined || ctx.files.length > 0
        ? this.resolveAttachments(m.channelId, body, ctx.files, m.attachments, limit, m.ephemeral)
        : m.attachments;
    const next = {
      content: 'content' in body ? (typeof body.content === 'string' ? body.content : '') : m.content,
      embeds: 'embeds' in body ? (Array.isArray(body.embeds) ? body.embeds : []) : m.embeds,
      components:
        'components' in body ? (Array.isArray(body.components) ? body.components : []) : m.components,
      attachments,
    };
    if (this.isEmpty(next)) throw new ApiError(400, 50006, 'Cannot send an empty message');
    this.world.checkOldMessageEdit(m);
    Object.assign(m, next);
    m.flags = flags & ~MessageFlag.Loading;
    m.editedAt = Date.now();
    m.editCount += 1;
  }

  // ================================================================ interactions

  private interactionByToken(appId: string, token: string): InteractionRec {
    const i = this.world.interactionsByToken.get(token);
    if (appId !== this.world.applicationId || !i) throw new ApiError(404, 10015, 'Unknown Webhook');
    if (Date.now() > i.tokenExpiresAt) throw new ApiError(401, 50027, 'Invalid Webhook Token');
    return i;
  }

  private interactionMessage(i: InteractionRec, ref: string): MessageRec {
    const id = ref === '@original' ? i.originalMessageId : ref;
    const m = id ? this.world.messages.get(id) : undefined;
    const belongs = m && (m.id === i.originalMessageId || i.followupIds.includes(m.id));
    if (!m || !belongs || m.deleted) throw new ApiError(404, 10008, 'Unknown Message');
    return m;
  }

  private callback(ctx: Ctx): Reply {
    const id = ctx.params.interaction_id ?? '';
    const token = ctx.params.interaction_token ?? '';
    const i = this.world.interactions.get(id);
    const body = asObject(ctx.json);
    const type = typeof body.type === 'number' ? body.type : -1;
    const data = (body.data ?? null) as Json | null;
    const withResponse = ctx.query.get('with_response') === 'true';
    const record = (status: number, code: number | null) =>
      i?.callbacks.push({
        type,
        data,
        status,
        code,
        withResponse,
        fileCount: ctx.files.length,
        at: Date.now(),
      });
    try {
      if (!i || i.token !== token) throw new ApiError(404, 10062, 'Unknown interaction');
      if (Date.now() > i.deadlineAt) throw new ApiError(404, 10062, 'Unknown interaction');
      if (i.acknowledged) throw new ApiError(400, 40060, 'Interaction has already been acknowledged.');
      const reply = this.applyCallback(i, type, ctx, withResponse);
      record(reply.status, null);
      return reply;
    } catch (err) {
      if (err instanceof ApiError) record(err.status, err.code);
      throw err;
    }
  }

  private applyCallback(i: InteractionRec, type: number, ctx: Ctx, withResponse: boolean): Reply {
    const body = asObject(ctx.json);
    const data = asObject(body.data);
    const isComponent = i.type === 3 || (i.type === 5 && i.sourceMessageId !== null);
    const allowed: Record<number, boolean> = {
      1: false,
      4: i.type !== 4,
      5: i.type !== 4,
      6: isComponent,
      7: isComponent,
      8: i.type === 4,
      9: i.type === 2 || i.type === 3,
      12: i.type === 2 || i.type === 3,
    };
    if (!allowed[type])
      throw formError(['type'], 'INTERACTION_CALLBACK_TYPE_INVALID', 'Interaction response type is invalid');
    let message: MessageRec | null = null;
    const commandMessageType = i.type === 2 ? (i.commandType === 1 ? 20 : 23) : 0;
    switch (type) {
      case 4: {
        message = this.createFromBody({ ...ctx, json: data }, i.channelId, {
          authorId: this.bot(),
          limit: i.attachmentSizeLimit,
          allowedFlags:
            MessageFlag.Ephemeral |
            MessageFlag.SuppressEmbeds |
            MessageFlag.SuppressNotifications |
            MessageFlag.IsComponentsV2,
          webhookId: this.world.applicationId,
          applicationId: this.world.applicationId,
          interactionId: i.id,
          type: commandMessageType,
        });
        i.originalMessageId = message.id;
        this.events.messageCreate(message);
        break;
      }
      case 5: {
        const flags = typeof data.flags === 'number' ? data.flags & MessageFlag.Ephemeral : 0;
        message = this.world.createMessage({
          channelId: i.channelId,
          authorId: this.bot(),
          flags: flags | MessageFlag.Loading,
          type: commandMessageType,
          webhookId: this.world.applicationId,
          applicationId: this.world.applicationId,
          ephemeral: (flags & MessageFlag.Ephemeral) !== 0,
          interactionId: i.id,
        });
        i.originalMessageId = message.id;
        this.events.messageCreate(message);
        break;
      }
      case 6:
        message = i.sourceMessageId ? (this.world.messages.get(i.sourceMessageId) ?? null) : null;
        i.originalMessageId = i.sourceMessageId;
        break;
      case 7: {
        const target = i.sourceMessageId ? this.world.messages.get(i.sourceMessageId) : undefined;
        if (!target) throw new ApiError(404, 10008, 'Unknown Message');
        this.applyEdit(target, { ...ctx, json: data }, i.attachmentSizeLimit);
        message = target;
        i.originalMessageId = target.id;
        this.events.messageUpdate(target);
        break;
      }
      case 8:
        break;
      case 9: {
        if (
          typeof data.custom_id !== 'string' ||
          typeof data.title !== 'string' ||
          !Array.isArray(data.components)
        ) {
          throw formError(['data'], 'BASE_TYPE_REQUIRED', 'This field is required');
        }
        i.modal = data;
        break;
      }
      default:
        break;
    }
    i.acknowledged = true;
    if (!withResponse) return ok();
    const resource: JsonObject = { type };
    if (message && type !== 6) resource.message = this.world.messageJson(message);
    return ok({
      interaction: {
        id: i.id,
        type: i.type,
        response_message_id: message?.id ?? null,
        response_message_loading: type === 5,
        response_message_ephemeral: message?.ephemeral ?? false,
      },
      resource,
    });
  }

  // ================================================================ commands

  private commandScope(ctx: Ctx): string | null {
    if (ctx.params.application_id !== this.world.applicationId) {
      throw new ApiError(403, 50001, 'Missing Access');
    }
    const guildId = ctx.params.guild_id ?? null;
    if (guildId) this.world.guild(guildId);
    return guildId;
  }

  private commandJson(c: CommandRec): JsonObject {
    return {
      ...c.data,
      id: c.id,
      application_id: this.world.applicationId,
      version: c.version,
      ...(c.guildId ? { guild_id: c.guildId } : {}),
    };
  }

  private normalizeCommand(raw: JsonObject, guildId: string | null, path: string[]): JsonObject {
    const type = typeof raw.type === 'number' ? raw.type : 1;
    const name = raw.name;
    if (typeof name !== 'string')
      throw formError([...path, 'name'], 'BASE_TYPE_REQUIRED', 'This field is required');
    if (type === 1) {
      if (!/^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u.test(name) || name !== name.toLowerCase()) {
        throw formError([...path, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
      }
      const d = raw.description;
      if (typeof d !== 'string' || d.length < 1 || d.length > 100) {
        throw formError(
          [...path, 'description'],
          'BASE_TYPE_BAD_LENGTH',
          'Must be between 1 and 100 in length.',
        );
      }
      if (raw.options !== undefined) this.validateOptions(raw.options, [...path, 'options'], 0);
    } else {
      if (name.length < 1 || name.length > 32) {
        throw formError([...path, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
      }
      if (typeof raw.description === 'string' && raw.description.length > 0) {
        throw formError(
          [...path, 'description'],
          'APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION',
          'Context menu commands cannot have description',
        );
      }
    }
    const out: JsonObject = {
      type,
      name,
      name_localizations: raw.name_localizations ?? null,
      description: typeof raw.description === 'string' ? raw.description : '',
      description_localizations: raw.description_localizations ?? null,
      default_member_permissions: raw.default_member_permissions ?? null,
      nsfw: raw.nsfw === true,
      integration_types: raw.integration_types ?? [0],
      contexts: raw.contexts ?? null,
    };
    if (Array.isArray(raw.options)) out.options = raw.options;
    if (!guildId) out.dm_permission = raw.dm_permission ?? true;
    return out;
  }

  private validateOptions(options: Json, path: string[], depth: number): void {
    if (!Array.isArray(options)) throw formError(path, 'BASE_TYPE_ARRAY', 'Must be an array.');
    if (options.length > 25) throw formError(path, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
    let sawOptional = false;
    const names = new Set<string>();
    options.forEach((raw, i) => {
      const o = asObject(raw);
      const p = [...path, String(i)];
      if (typeof o.type !== 'number' || o.type < 1 || o.type > 11) {
        throw formError(
          [...p, 'type'],
          'BASE_TYPE_CHOICES',
          'Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.',
        );
      }
      if (
        typeof o.name !== 'string' ||
        !/^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u.test(o.name) ||
        o.name !== o.name.toLowerCase()
      ) {
        throw formError([...p, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
      }
      if (names.has(o.name))
        throw formError(
          [...p, 'name'],
          'APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS',
          'Option name already exists',
        );
      names.add(o.name);
      if (typeof o.description !== 'string' || o.description.length < 1 || o.description.length > 100) {
        throw formError(
          [...p, 'description'],
          'BASE_TYPE_BAD_LENGTH',
          'Must be between 1 and 100 in length.',
        );
      }
      if (o.type === 1 || o.type === 2) {
        if (depth >= 2 || (o.type === 2 && depth >= 1)) {
          throw formError(
            [...p, 'type'],
            'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID',
            'Sub-command and sub-command group option types are mutually exclusive to all other types',
          );
        }
        if (o.options !== undefined) this.validateOptions(o.options, [...p, 'options'], depth + 1);
        return;
      }
      if (o.required === true && sawOptional) {
        throw formError(
          [...p, 'required'],
          'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID',
          'Required options must be placed before non-required options',
        );
      }
      if (o.required !== true) sawOptional = true;
      if (Array.isArray(o.choices) && o.choices.length > 25) {
        throw formError([...p, 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      }
    });
  }

  private upsertCommand(guildId: string | null, data: JsonObject, keep: CommandRec | undefined): CommandRec {
    if (keep) {
      const changed = JSON.stringify(keep.data) !== JSON.stringify(data);
      keep.data = data;
      if (changed) keep.version = snowflake();
      return keep;
    }
    const rec: CommandRec = { id: snowflake(), guildId, version: snowflake(), data };
    this.world.commands.push(rec);
    return rec;
  }

  private findCommand(
    guildId: string | null,
    type: Json | undefined,
    name: Json | undefined,
  ): CommandRec | undefined {
    return this.world.commands.find(
      (c) => c.guildId === guildId && c.data.type === type && c.data.name === name,
    );
  }

  private bulkOverwrite(ctx: Ctx): Reply {
    const guildId = this.commandScope(ctx);
    if (!Array.isArray(ctx.json)) throw formError([], 'BASE_TYPE_ARRAY', 'Must be an array.');
    const normalized = ctx.json.map((raw, i) => this.normalizeCommand(asObject(raw), guildId, [String(i)]));
    const seen = new Set<string>();
    const counts: Record<number, number> = {};
    normalized.forEach((c, i) => {
      const key = `${String(c.type)}:${String(c.name)}`;
      if (seen.has(key))
        throw formError(
          [String(i), 'name'],
          'APPLICATION_COMMANDS_DUPLICATE_NAME',
          `Application command names must be unique`,
        );
      seen.add(key);
      const t = Number(c.type);
      counts[t] = (counts[t] ?? 0) + 1;
    });
    if ((counts[1] ?? 0) > 100 || (counts[2] ?? 0) > 15 || (counts[3] ?? 0) > 15) {
      throw new ApiError(400, 30032, 'Maximum number of application commands reached');
    }
    const result = normalized.map((data) =>
      this.upsertCommand(guildId, data, this.findCommand(guildId, data.type, data.name)),
    );
    const keepIds = new Set(result.map((c) => c.id));
    for (let i = this.world.commands.length - 1; i >= 0; i--) {
      const c = this.world.commands[i];
      if (c && c.guildId === guildId && !keepIds.has(c.id)) this.world.commands.splice(i, 1);
    }
    return ok(result.map((c) => this.commandJson(c)));
  }

  // ================================================================ routes

  private registerRoutes(): void {
    const w = this.world;

    // ---- gateway, users, application
    this.add('GET', '/gateway', 'none', () => ok({ url: this.gatewayUrl() }));
    this.add('GET', '/gateway/bot', 'bot', () =>
      ok({
        url: this.gatewayUrl(),
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      }),
    );
    this.add('GET', '/users/@me', 'bot', () => ok(w.botUserJson()));
    this.add('GET', '/users/:user_id', 'bot', (c) => {
      w.user(c.params.user_id ?? '');
      return ok(w.userJson(c.params.user_id ?? ''));
    });
    this.add('POST', '/users/@me/channels', 'bot', (c) => {
      const recipient = asObject(c.json).recipient_id;
      if (typeof recipient !== 'string')
        throw formError(['recipient_id'], 'BASE_TYPE_REQUIRED', 'This field is required');
      const user = w.user(recipient);
      if (user.bot) throw new ApiError(400, 50007, 'Cannot send messages to this user');
      return ok(w.channelJson(w.dmChannelFor(recipient)));
    });
    const applicationJson = (): JsonObject => ({
      id: w.applicationId,
      name: w.users.get(w.botUserId)?.username ?? 'Kinema',
      icon: null,
      description: '',
      summary: '',
      type: null,
      bot: w.botUserJson(),
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: '0'.repeat(64),
      flags: w.applicationFlags,
      team: null,
      owner: w.userJson([...w.guilds.values()][0]?.ownerId ?? w.botUserId),
      approximate_guild_count: w.guilds.size,
      integration_types_config: { '0': {}, '1': {} },
      tags: [],
    });
    this.add('GET', '/applications/@me', 'bot', () => ok(applicationJson()));
    this.add('GET', '/oauth2/applications/@me', 'bot', () => ok(applicationJson()));

    // ---- commands (global and guild)
    for (const base of ['/applications/:application_id', '/applications/:application_id/guilds/:guild_id']) {
      this.add('GET', `${base}/commands`, 'bot', (c) => {
        const guildId = this.commandScope(c);
        return ok(w.commands.filter((x) => x.guildId === guildId).map((x) => this.commandJson(x)));
      });
      this.add('PUT', `${base}/commands`, 'bot', (c) => this.bulkOverwrite(c));
      this.add('POST', `${base}/commands`, 'bot', (c) => {
        const guildId = this.commandScope(c);
        const data = this.normalizeCommand(asObject(c.json), guildId, []);
        const existing = this.findCommand(guildId, data.type, data.name);
        const rec = this.upsertCommand(guildId, data, existing);
        return ok(this.commandJson(rec), existing ? 200 : 201);
      });
      const byId = (c: Ctx): CommandRec => {
        const guildId = this.commandScope(c);
        const rec = w.commands.find((x) => x.id === c.params.command_id && x.guildId === guildId);
        if (!rec) throw new ApiError(404, 10063, 'Unknown application command');
        return rec;
      };
      this.add('GET', `${base}/commands/:command_id`, 'bot', (c) => ok(this.commandJson(byId(c))));
      this.add('PATCH', `${base}/commands/:command_id`, 'bot', (c) => {
        const rec = byId(c);
        const data = this.normalizeCommand({ ...rec.data, ...asObject(c.json) }, rec.guildId, []);
        return ok(this.commandJson(this.upsertCommand(rec.guildId, data, rec)));
      });
      this.add('DELETE', `${base}/commands/:command_id`, 'bot', (c) => {
        const rec = byId(c);
        w.commands.splice(w.commands.indexOf(rec), 1);
        return ok();
      });
    }

    // ---- guilds
    const memberGuild = (c: Ctx) => {
      const g = w.guild(c.params.guild_id ?? '');
      if (!g.members.has(w.botUserId)) throw new ApiError(403, 50001, 'Missing Access');
      return g;
    };
    this.add('GET', '/guilds/:guild_id', 'bot', (c) => {
      const g = memberGuild(c);
      const out = w.guildJson(g);
      if (c.query.get('with_counts') === 'true') {
        out.approximate_member_count = g.members.size;
        out.approximate_presence_count = 0;
      }
      return ok(out);
    });
    this.add('GET', '/guilds/:guild_id/channels', 'bot', (c) => {
      const g = memberGuild(c);
      return ok(g.channelIds.map((id) => w.channelJson(w.channel(id))));
    });
    this.add('GET', '/guilds/:guild_id/roles', 'bot', (c) =>
      ok(memberGuild(c).roles.map((r) => w.roleJson(r))),
    );
    this.add('GET', '/guilds/:guild_id/members', 'bot', (c) => {
      const g = memberGuild(c);
      const limit = Math.min(1000, Math.max(1, Number(c.query.get('limit') ?? 1)));
      return ok(
        [...g.members.keys()].slice(0, limit).map((id) => w.memberJson(g.id, id, { withUser: true })),
      );
    });
    this.add('GET', '/guilds/:guild_id/members/:user_id', 'bot', (c) => {
      const g = memberGuild(c);
      if (!g.members.has(c.params.user_id ?? '')) throw new ApiError(404, 10007, 'Unknown Member');
      return ok(w.memberJson(g.id, c.params.user_id ?? '', { withUser: true }));
    });

    // ---- channels and messages (bot token)
    const viewable = (c: Ctx) => {
      const ch = w.channel(c.params.channel_id ?? '');
      w.requirePermissions(ch.id, w.botUserId, Perm.ViewChannel);
      return ch;
    };
    this.add('GET', '/channels/:channel_id', 'bot', (c) => ok(w.channelJson(viewable(c))));
    this.add('POST', '/channels/:channel_id/typing', 'bot', (c) => {
      w.requirePermissions(viewable(c).id, w.botUserId, Perm.SendMessages);
      return ok();
    });
    this.add('GET', '/channels/:channel_id/messages', 'bot', (c) => {
      const ch = viewable(c);
      if (!(w.permissionsIn(ch.id, w.botUserId) & Perm.ReadMessageHistory)) return ok([]);
      const limit = Math.min(100, Math.max(1, Number(c.query.get('limit') ?? 50)));
      let list = [...w.messages.values()]
        .filter((m) => m.channelId === ch.id && !m.deleted && !m.ephemeral)
        .sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : -1));
      const before = c.query.get('before');
      const after = c.query.get('after');
      const around = c.query.get('around');
      if (before) list = list.filter((m) => BigInt(m.id) < BigInt(before)).slice(0, limit);
      else if (after) list = list.filter((m) => BigInt(m.id) > BigInt(after)).slice(-limit);
      else if (around) {
        const idx = list.findIndex((m) => m.id === around);
        list =
          idx < 0
            ? []
            : list.slice(
                Math.max(0, idx - Math.floor(limit / 2)),
                Math.max(0, idx - Math.floor(limit / 2)) + limit,
              );
      } else list = list.slice(0, limit);
      return ok(list.map((m) => w.messageJson(m)));
    });
    this.add('POST', '/channels/:channel_id/messages', 'bot', (c) => {
      const ch = viewable(c);
      const body = asObject(c.json);
      let needed = Perm.SendMessages;
      if (c.files.length > 0) needed |= Perm.AttachFiles;
      if (body.message_reference) needed |= Perm.ReadMessageHistory;
      w.requirePermissions(ch.id, w.botUserId, needed);
      const m = this.createFromBody(c, ch.id, {
        authorId: w.botUserId,
        limit: w.uploadLimitForChannel(ch.id),
        allowedFlags:
          MessageFlag.SuppressEmbeds | MessageFlag.SuppressNotifications | MessageFlag.IsComponentsV2,
      });
      this.events.messageCreate(m);
      return ok(w.messageJson(m));
    });
    const message = (c: Ctx) => {
      const ch = viewable(c);
      return w.channelMessage(ch.id, c.params.message_id ?? '');
    };
    this.add('GET', '/channels/:channel_id/messages/:message_id', 'bot', (c) => {
      const ch = viewable(c);
      w.requirePermissions(ch.id, w.botUserId, Perm.ReadMessageHistory);
      return ok(w.messageJson(w.channelMessage(ch.id, c.params.message_id ?? '')));
    });
    this.add('PATCH', '/channels/:channel_id/messages/:message_id', 'bot', (c) => {
      const m = message(c);
      if (m.authorId !== w.botUserId)
        throw new ApiError(403, 50005, 'Cannot edit a message authored by another user');
      this.applyEdit(m, c, w.uploadLimitForChannel(m.channelId));
      this.events.messageUpdate(m);
      return ok(w.messageJson(m));
    });
    this.add('DELETE', '/channels/:channel_id/messages/:message_id', 'bot', (c) => {
      const m = message(c);
      if (m.authorId !== w.botUserId) w.requirePermissions(m.channelId, w.botUserId, Perm.ManageMessages);
      m.deleted = true;
      this.events.messageDelete(m);
      return ok();
    });

    // ---- reactions
    const reactionTarget = (c: Ctx) => {
      const m = message(c);
      w.requirePermissions(m.channelId, w.botUserId, Perm.ReadMessageHistory);
      return { m, emoji: parseEmoji(c.params.emoji ?? '') };
    };
    const removeReaction = (m: MessageRec, emoji: ReturnType<typeof parseEmoji>, userId: string) => {
      const r = m.reactions.find((x) => sameEmoji(x, emoji));
      if (!r?.userIds.includes(userId)) return;
      r.userIds = r.userIds.filter((id) => id !== userId);
      if (r.userIds.length === 0) m.reactions = m.reactions.filter((x) => x !== r);
      this.events.reactionRemove(m, userId, r.emoji);
    };
    this.add('PUT', '/channels/:channel_id/messages/:message_id/reactions/:emoji/@me', 'bot', (c) => {
      const { m, emoji } = reactionTarget(c);
      let r = m.reactions.find((x) => sameEmoji(x, emoji));
      if (!r) {
        w.requirePermissions(m.channelId, w.botUserId, Perm.AddReactions);
        if (m.reactions.length >= 20)
          throw new ApiError(400, 30010, 'Maximum number of reactions reached (20)');
        r = { emoji, userIds: [] };
        m.reactions.push(r);
      }
      if (!r.userIds.includes(w.botUserId)) {
        r.userIds.push(w.botUserId);
        this.events.reactionAdd(m, w.botUserId, r.emoji);
      }
      return ok();
    });
    this.add('DELETE', '/channels/:channel_id/messages/:message_id/reactions/:emoji/@me', 'bot', (c) => {
      const { m, emoji } = reactionTarget(c);
      removeReaction(m, emoji, w.botUserId);
      return ok();
    });
    this.add('DELETE', '/channels/:channel_id/messages/:message_id/reactions/:emoji/:user_id', 'bot', (c) => {
      const { m, emoji } = reactionTarget(c);
      const userId = c.params.user_id ?? '';
      if (userId !== w.botUserId) w.requirePermissions(m.channelId, w.botUserId, Perm.ManageMessages);
      removeReaction(m, emoji, userId);
      return ok();
    });
    this.add('GET', '/channels/:channel_id/messages/:message_id/reactions/:emoji', 'bot', (c) => {
      const { m, emoji } = reactionTarget(c);
      const r = m.reactions.find((x) => sameEmoji(x, emoji));
      return ok((r?.userIds ?? []).map((id) => w.userJson(id)));
    });
    this.add('DELETE', '/channels/:channel_id/messages/:message_id/reactions/:emoji', 'bot', (c) => {
      const { m, emoji } = reactionTarget(c);
      w.requirePermissions(m.channelId, w.botUserId, Perm.ManageMessages);
      const r = m.reactions.find((x) => sameEmoji(x, emoji));
      for (const id of r?.userIds ?? []) removeReaction(m, emoji, id);
      return ok();
    });
    this.add('DELETE', '/channels/:channel_id/messages/:message_id/reactions', 'bot', (c) => {
      const m = message(c);
      w.requirePermissions(m.channelId, w.botUserId, Perm.ManageMessages);
      for (const r of [...m.reactions]) for (const id of [...r.userIds]) removeReaction(m, r.emoji, id);
      return ok();
    });

    // ---- interaction callback and webhook (interaction token) routes: no Authorization expected
    this.add('POST', '/interactions/:interaction_id/:interaction_token/callback', 'none', (c) =>
      this.callback(c),
    );
    this.add('POST', '/webhooks/:application_id/:webhook_token', 'none', (c) => {
      const i = this.interactionByToken(c.params.application_id ?? '', c.params.webhook_token ?? '');
      if (!i.acknowledged) throw new ApiError(404, 10015, 'Unknown Webhook');
      if (!w.isBotInGuild(i.guildId) && i.followupIds.length >= 5) {
        throw new ApiError(400, 40094, 'This interaction has hit the maximum number of follow up messages');
      }
      const m = this.createFromBody(c, i.channelId, {
        authorId: w.botUserId,
        limit: i.attachmentSizeLimit,
        allowedFlags:
          MessageFlag.Ephemeral |
          MessageFlag.SuppressEmbeds |
          MessageFlag.SuppressNotifications |
          MessageFlag.IsComponentsV2,
        webhookId: w.applicationId,
        applicationId: w.applicationId,
        interactionId: i.id,
      });
      i.followupIds.push(m.id);
      this.events.messageCreate(m);
      return c.query.get('wait') === 'false' ? ok() : ok(w.messageJson(m));
    });
    this.add('GET', '/webhooks/:application_id/:webhook_token/messages/:message_id', 'none', (c) => {
      const i = this.interactionByToken(c.params.application_id ?? '', c.params.webhook_token ?? '');
      return ok(w.messageJson(this.interactionMessage(i, c.params.message_id ?? '')));
    });
    this.add('PATCH', '/webhooks/:application_id/:webhook_token/messages/:message_id', 'none', (c) => {
      const i = this.interactionByToken(c.params.application_id ?? '', c.params.webhook_token ?? '');
      const m = this.interactionMessage(i, c.params.message_id ?? '');
      this.applyEdit(m, c, i.attachmentSizeLimit);
      this.events.messageUpdate(m);
      return ok(w.messageJson(m));
    });
    this.add('DELETE', '/webhooks/:application_id/:webhook_token/messages/:message_id', 'none', (c) => {
      const i = this.interactionByToken(c.params.application_id ?? '', c.params.webhook_token ?? '');
      const m = this.interactionMessage(i, c.params.message_id ?? '');
      m.deleted = true;
      this.events.messageDelete(m);
      return ok();
    });
  }
}

// ================================================================== helpers

function matchSegments(template: string[], actual: string[]): Record<string, string> | null {
  if (template.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i] ?? '';
    const a = actual[i] ?? '';
    if (t.startsWith(':')) {
      if (a.length === 0) return null;
      params[t.slice(1)] = a;
    } else if (t !== a) return null;
  }
  return params;
}

function majorParameter(template: string, params: Record<string, string>): string {
  if (template.startsWith('/channels/')) return params.channel_id ?? '';
  if (template.startsWith('/guilds/')) return params.guild_id ?? '';
  if (template.startsWith('/webhooks/')) return `${params.application_id}/${params.webhook_token}`;
  if (template.startsWith('/interactions/')) return params.interaction_id ?? '';
  return 'global';
}

function ruleMatches(pattern: string | RegExp, method: string, template: string, path: string): boolean {
  const byTemplate = `${method} ${template}`;
  const byPath = `${method} ${path}`;
  if (typeof pattern === 'string')
    return pattern === byTemplate || pattern === byPath || pattern === template;
  return pattern.test(byTemplate) || pattern.test(byPath);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > MAX_BODY) throw new Error('body too large for the fake');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

async function parseBody(
  contentType: string | undefined,
  raw: Buffer,
): Promise<{ json: Json | undefined; files: UploadedFile[] }> {
  if (raw.length === 0) return { json: undefined, files: [] };
  const type = (contentType ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake/', {
      method: 'POST',
      headers: { 'content-type': contentType ?? '' },
      body: raw,
    }).formData();
    let json: Json | undefined;
    const files: UploadedFile[] = [];
    for (const [key, value] of form.entries()) {
      if (key === 'payload_json' && typeof value === 'string') {
        json = JSON.parse(value) as Json;
        continue;
      }
      if (typeof value === 'string') continue;
      const m = /^files\[(\d+)\]$/.exec(key) ?? /^file(\d*)$/.exec(key);
      const index = m ? Number(m[1] || 0) : files.length;
      files.push({
        index,
        filename: value.name,
        contentType: value.type || null,
        bytes: Buffer.from(await value.arrayBuffer()),
      });
    }
    return { json, files };
  }
  return { json: JSON.parse(raw.toString('utf8')) as Json, files: [] };
}
