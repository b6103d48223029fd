import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sameSecret } from '../secrets.js';

export const SESSION_COOKIE = 'kinema_admin';
/** Before login: the value the login form must echo (login CSRF, double submit). */
export const LOGIN_COOKIE = 'kinema_admin_login';
export const COOKIE_PATH = '/admin';
const SESSION_TTL_MS = 12 * 3_600_000;
/** Wrong tokens tolerated per minute (for the whole process) before logins are refused for a while. */
const FAILURES_PER_MINUTE = 10;

export interface Session {
  csrf: string;
  expiresAt: number;
}

const random = () => randomBytes(32).toString('base64url');

export function cookiesOf(req: IncomingMessage): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) cookies.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return cookies;
}

/** `HttpOnly; SameSite=Strict; Path=/admin`, and `Secure` when the request came over HTTPS. */
export function cookie(req: IncomingMessage, name: string, value: string, maxAgeSeconds: number): string {
  const https =
    (req.socket as { encrypted?: boolean }).encrypted === true ||
    String(req.headers['x-forwarded-proto'] ?? '').startsWith('https');
  return [
    `${name}=${value}`,
    'HttpOnly',
    'SameSite=Strict',
    `Path=${COOKIE_PATH}`,
    `Max-Age=${maxAgeSeconds}`,
    ...(https ? ['Secure'] : []),
  ].join('; ');
}

/**
 * The dashboard's logins, in this process's memory (a restart logs everyone out; each process that
 * serves /admin has its own). A session is a random id in an HttpOnly cookie, with its own CSRF
 * token that every state-changing request must carry.
 */
export class AdminSessions {
  private readonly sessions = new Map<string, Session>();
  private failures: number[] = [];

  constructor(
    private readonly token: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The right token opens a session; a wrong one is refused, and after ten in a minute every login is. */
  login(given: string): { id: string; session: Session } | 'refused' | 'throttled' {
    const now = this.now();
    this.failures = this.failures.filter((at) => at > now - 60_000);
    if (this.failures.length >= FAILURES_PER_MINUTE) return 'throttled';
    if (!sameSecret(given, this.token)) {
      this.failures.push(now);
      return 'refused';
    }
    this.prune(now);
    const id = random();
    const session = { csrf: random(), expiresAt: now + SESSION_TTL_MS };
    this.sessions.set(id, session);
    return { id, session };
  }

  /** The request's live session, if its cookie names one. */
  of(req: IncomingMessage): { id: string; session: Session } | undefined {
    const id = cookiesOf(req).get(SESSION_COOKIE);
    const session = id ? this.sessions.get(id) : undefined;
    if (!id || !session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return { id, session };
  }

  /** Whether a state-changing request carries its session's CSRF token. */
  static csrfMatches(session: Session, given: string | undefined): boolean {
    return given !== undefined && sameSecret(given, session.csrf);
  }

  end(id: string): void {
    this.sessions.delete(id);
  }

  static loginNonce(): string {
    return random();
  }

  static sessionSeconds(): number {
    return SESSION_TTL_MS / 1000;
  }

  private prune(now: number): void {
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
  }
}
