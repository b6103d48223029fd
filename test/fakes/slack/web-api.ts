import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatApi } from './chat.js';
import type { DirectoryApi } from './directory.js';
import type { HostedFiles } from './hosted-files.js';
import { bearerToken, headerValue, parseApiArgs, readBody, sendJson } from './http-util.js';
import type { Faults } from './rate-limits.js';
import type { ReactionsApi } from './reactions.js';
import type { ApiCall, JsonObject } from './types.js';
import type { ExternalUploads } from './uploads.js';
import type { ViewsApi } from './views.js';
import { type ApiResult, clone, fail, type MethodHandler, str } from './web-api-args.js';
import type { SlackWorkspace } from './workspace.js';

/** The surfaces that answer Web API methods. */
export interface WebApiSurfaces {
  chat: ChatApi;
  views: ViewsApi;
  files: HostedFiles;
  uploads: ExternalUploads;
  reactions: ReactionsApi;
  directory: DirectoryApi;
  /** apps.connections.open: a fresh Socket Mode URL. */
  openConnection(): string;
}

function methodTable(s: WebApiSurfaces): Record<string, MethodHandler> {
  return {
    'auth.test': () => s.directory.authTest(),
    'chat.postMessage': (a) => s.chat.postMessage(a),
    'chat.update': (a) => s.chat.update(a),
    'chat.postEphemeral': (a) => s.chat.postEphemeral(a),
    'chat.delete': (a) => s.chat.delete(a),
    'views.open': (a) => s.views.openOrPush('views.open', a),
    'views.push': (a) => s.views.openOrPush('views.push', a),
    'views.update': (a) => s.views.update(a),
    'files.info': (a) => s.files.filesInfo(a),
    'files.getUploadURLExternal': (a) => s.uploads.getUploadUrlExternal(a),
    'files.completeUploadExternal': (a) => s.uploads.completeUploadExternal(a),
    'reactions.add': (a) => s.reactions.add(a),
    'reactions.remove': (a) => s.reactions.remove(a),
    'conversations.info': (a) => s.directory.conversationsInfo(a),
    'users.info': (a) => s.directory.usersInfo(a),
    'apps.connections.open': () => ({ ok: true, url: s.openConnection() }),
  };
}

/**
 * POST /api/<method>: the token check (bot token, or the app token for apps.connections.open only),
 * the armed faults, the method itself, and a log of every call with its answer.
 */
export class WebApi {
  private readonly callLog: ApiCall[] = [];
  private readonly methods: Record<string, MethodHandler>;

  constructor(
    private readonly ws: SlackWorkspace,
    private readonly faults: Faults,
    surfaces: WebApiSurfaces,
  ) {
    this.methods = methodTable(surfaces);
  }

  /** Web API calls (optionally of one method), with HTTP status and the fake's answer. */
  calls(method?: string): ApiCall[] {
    return this.callLog.filter((c) => method === undefined || c.method === method).map(clone);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = decodeURIComponent(url.pathname.slice('/api/'.length));
    const body = await readBody(req);
    const { args, encoding, parseError } = await parseApiArgs(
      headerValue(req.headers, 'content-type'),
      body,
      url.searchParams,
    );
    const token = bearerToken(req.headers) ?? str(args.token);
    const auth: ApiCall['auth'] =
      token === undefined
        ? 'none'
        : token === this.ws.botToken
          ? 'bot'
          : token === this.ws.appToken
            ? 'app'
            : 'invalid';
    let status = 200;
    const headers: Record<string, string> = {};
    let response: ApiResult;

    const handler = this.methods[method];
    if (parseError) response = fail(parseError);
    else if (auth === 'none') response = fail('not_authed');
    else if (auth === 'invalid') response = fail('invalid_auth');
    else if (!handler) response = fail('unknown_method', { req_method: method });
    else if ((method === 'apps.connections.open') !== (auth === 'app'))
      response = fail('not_allowed_token_type');
    else {
      const fault = this.faults.take(method);
      if (fault?.kind === 'ratelimit') {
        status = 429;
        headers['retry-after'] = String(fault.retryAfterSeconds);
        response = fail('ratelimited');
      } else if (fault?.kind === 'error') {
        response = fail(fault.error);
      } else {
        response = handler(args);
      }
    }
    const logged: JsonObject = {};
    for (const [k, v] of Object.entries(args)) logged[k] = Buffer.isBuffer(v) ? `<${v.length} bytes>` : v;
    const call: ApiCall = {
      method,
      args: logged,
      encoding,
      auth,
      status,
      ok: response.ok === true,
      response,
      at: this.ws.now(),
    };
    if (typeof response.error === 'string') call.error = response.error;
    this.callLog.push(clone(call));
    sendJson(res, status, response, headers);
  }
}
