import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Logger } from '../../log.js';
import type { OperatorDesk } from '../../service/operator-desk.js';
import { RefusedError } from '../../service/refusals.js';
import { dashboardPage, loginPage } from './page.js';
import { AdminSessions, COOKIE_PATH, cookie, cookiesOf, LOGIN_COOKIE, SESSION_COOKIE } from './sessions.js';

const BOARD_PATH = '/admin/queues';
const MAX_BODY_BYTES = 4_096;

export interface DashboardOptions {
  /** ADMIN_TOKEN. */
  token: string;
  desk: OperatorDesk;
  /** Shown read-only in bull-board (its writes would skip the CSRF check; Kinema's page acts instead). */
  queues: Queue[];
  log: Logger;
  /** How often the page refreshes itself. */
  refreshMs?: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;
type Next = (error?: unknown) => void;

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpProblem(413, 'the request is too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function formOrJson(req: IncomingMessage): Promise<Record<string, string>> {
  const raw = await readBody(req);
  if (String(req.headers['content-type']).startsWith('application/json')) {
    try {
      const parsed = JSON.parse(raw || '{}') as unknown;
      if (parsed && typeof parsed === 'object') {
        return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)]));
      }
    } catch {
      throw new HttpProblem(400, 'the body is not JSON');
    }
    return {};
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res
    .writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
    .end(JSON.stringify(body));
}

/** Headers of Kinema's own pages: only its nonce'd inline script and style run; never framed. */
function html(res: ServerResponse, status: number, nonce: string, body: string, cookies: string[] = []) {
  res
    .writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'self'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on our own form posts.
      'referrer-policy': 'same-origin',
      ...(cookies.length > 0 ? { 'set-cookie': cookies } : {}),
    })
    .end(body);
}

/** A state-changing request from another site: its Origin, when the browser sends one, is not ours. */
function foreignOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin || origin === 'null') return origin === 'null';
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

/**
 * The web dashboard on HTTP_PORT, at /admin (only when ADMIN_TOKEN is set): a login with the token,
 * Kinema's own page (the live queue, recent jobs, health, Pause / Resume / Cancel through the admin
 * commands' service calls) and bull-board at /admin/queues, all behind the same session. Every
 * POST needs the session's CSRF token (the login form: its own nonce cookie) and a same-site Origin.
 */
export class AdminDashboard {
  private readonly sessions: AdminSessions;
  private readonly board: Handler & ((req: IncomingMessage, res: ServerResponse, next: Next) => void);
  private readonly refreshMs: number;

  constructor(private readonly options: DashboardOptions) {
    this.sessions = new AdminSessions(options.token);
    this.refreshMs = options.refreshMs ?? 2_000;
    const serverAdapter = new ExpressAdapter();
    serverAdapter.setBasePath(BOARD_PATH);
    createBullBoard({
      queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'Kinema queues' } },
    });
    this.board = serverAdapter.getRouter();
  }

  /** Serves /admin and everything under it; false for other paths. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path !== COOKIE_PATH && !path.startsWith(`${COOKIE_PATH}/`)) return false;
    try {
      await this.route(req, res, path);
    } catch (error) {
      if (error instanceof HttpProblem) json(res, error.status, { message: error.message });
      else if (error instanceof RefusedError) json(res, 403, { message: 'refused', refusal: error.refusal });
      else {
        this.options.log.warn({ err: error, path }, 'the admin dashboard could not answer');
        if (!res.headersSent) json(res, 500, { message: 'something went wrong; see the log' });
      }
    }
    return true;
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    const reading = method === 'GET' || method === 'HEAD';
    if (!reading && foreignOrigin(req)) throw new HttpProblem(403, 'cross-site request refused');
    if (path === '/admin/login' && method === 'POST') return this.login(req, res);
    const current = this.sessions.of(req);
    if (!current) {
      if ((path === '/admin' || path === '/admin/') && reading) return this.showLogin(req, res);
      throw new HttpProblem(401, 'log in first');
    }
    if (!reading) {
      const header = req.headers['x-csrf-token'];
      const body = path === '/admin/logout' ? await formOrJson(req) : undefined;
      const given = typeof header === 'string' ? header : body?.csrf;
      if (!AdminSessions.csrfMatches(current.session, given))
        throw new HttpProblem(403, 'missing or wrong CSRF token');
    }
    if ((path === '/admin' || path === '/admin/') && reading) {
      const nonce = randomBytes(16).toString('base64');
      return html(res, 200, nonce, dashboardPage(nonce, current.session.csrf, this.refreshMs));
    }
    if (path === BOARD_PATH || path.startsWith(`${BOARD_PATH}/`)) {
      // Read-only: the board's own writes would carry no CSRF token.
      if (!reading) throw new HttpProblem(403, 'the queue board is read-only; act from /admin');
      return this.showBoard(req, res);
    }
    if (path === '/admin/api/state' && reading) return json(res, 200, await this.options.desk.view());
    if (path.startsWith('/admin/poster/') && reading) {
      const poster = await this.options.desk.poster(decodeURIComponent(path.slice('/admin/poster/'.length)));
      if (!poster) throw new HttpProblem(404, 'no poster frame kept for this job');
      res
        .writeHead(200, { 'content-type': 'image/jpeg', 'cache-control': 'private, max-age=3600' })
        .end(poster);
      return;
    }
    if (method !== 'POST') throw new HttpProblem(404, 'not found');
    switch (path) {
      case '/admin/logout':
        this.sessions.end(current.id);
        res.writeHead(303, { location: '/admin', 'set-cookie': cookie(req, SESSION_COOKIE, '', 0) }).end();
        return;
      case '/admin/api/cancel': {
        const { jobId } = await formOrJson(req);
        if (!jobId) throw new HttpProblem(400, 'which job? (jobId)');
        const result = await this.options.desk.cancel(jobId);
        return json(res, 200, { result, message: `${jobId}: ${result}` });
      }
      case '/admin/api/pause':
        await this.options.desk.pause();
        return json(res, 200, { message: 'Paused: no new job starts until Resume.' });
      case '/admin/api/resume':
        await this.options.desk.resume();
        return json(res, 200, { message: 'Resumed.' });
      default:
        throw new HttpProblem(404, 'not found');
    }
  }

  private showLogin(req: IncomingMessage, res: ServerResponse, problem?: string, status = 200): void {
    const nonce = randomBytes(16).toString('base64');
    const loginNonce = AdminSessions.loginNonce();
    html(res, status, nonce, loginPage(nonce, loginNonce, problem), [
      cookie(req, LOGIN_COOKIE, loginNonce, 600),
    ]);
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await formOrJson(req);
    const expected = cookiesOf(req).get(LOGIN_COOKIE);
    if (!expected || form.nonce !== expected) throw new HttpProblem(403, 'missing or wrong CSRF token');
    const outcome = this.sessions.login(form.token ?? '');
    if (outcome === 'throttled')
      return this.showLogin(req, res, 'Too many wrong tokens; wait a minute.', 429);
    if (outcome === 'refused') {
      this.options.log.warn(
        { remote: req.socket.remoteAddress },
        'admin dashboard: a wrong token was refused',
      );
      return this.showLogin(req, res, 'That token is not right.', 401);
    }
    res
      .writeHead(303, {
        location: '/admin',
        'set-cookie': [
          cookie(req, SESSION_COOKIE, outcome.id, AdminSessions.sessionSeconds()),
          cookie(req, LOGIN_COOKIE, '', 0),
        ],
      })
      .end();
  }

  /** bull-board's express router, mounted at /admin/queues as `app.use` would. */
  private showBoard(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const original = req.url ?? '/';
    req.url = original.slice(BOARD_PATH.length) || '/';
    return new Promise((resolve, reject) => {
      res.once('finish', resolve);
      res.once('close', resolve);
      this.board(req, res, (error?: unknown) => {
        req.url = original;
        if (error) reject(error);
        else reject(new HttpProblem(404, 'not found'));
      });
    });
  }
}
