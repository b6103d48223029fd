/**
 * Transport failures of inference.sh calls (shared/specs/inference-sh-api.md §13): no HTTP answer at
 * all, and whether the request certainly never reached the server, which is what decides if a paid
 * run may be sent again.
 */

/** A transport failure: no HTTP answer at all. */
export class NetworkError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** True only when the request certainly never reached the server (DNS, refused, connect/TLS failure). */
    readonly neverSent: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

/** Error codes after which the request certainly never reached the server (§13). */
const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);

function errorCodes(error: unknown, depth = 0): string[] {
  if (!error || typeof error !== 'object' || depth > 4) return [];
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown };
  const codes = typeof e.code === 'string' ? [e.code] : [];
  codes.push(...errorCodes(e.cause, depth + 1));
  if (Array.isArray(e.errors)) for (const inner of e.errors) codes.push(...errorCodes(inner, depth + 1));
  return codes;
}

/** Classifies a thrown transport error; `timedOut` marks our own whole-call timeout. */
export function classifyNetworkError(error: unknown, timedOut: boolean): NetworkError {
  if (timedOut) return new NetworkError('the request timed out', 'TIMEOUT', false, { cause: error });
  const codes = errorCodes(error);
  const code = codes[0] ?? 'UNKNOWN';
  const neverSent =
    codes.length > 0 && codes.every((c) => NEVER_SENT.has(c) || c.startsWith('ERR_SSL_') || c === 'EPROTO');
  const message = error instanceof Error ? error.message : String(error);
  return new NetworkError(`${message || code} (${code})`, code, neverSent, { cause: error });
}
