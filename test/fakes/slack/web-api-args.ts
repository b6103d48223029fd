import type { JsonObject } from './types.js';

/** What a Web API method answers: `{ok: true, …}` or `{ok: false, error}`, always with HTTP 200 here. */
export type ApiResult = JsonObject;
export type MethodHandler = (args: JsonObject) => ApiResult;

export const fail = (error: string, extra: JsonObject = {}): ApiResult => ({ ok: false, error, ...extra });

export const invalidArgs = (message: string): ApiResult =>
  fail('invalid_arguments', { response_metadata: { messages: [`[ERROR] ${message}`] } });

/** An argument as a string, the way Slack reads form fields (numbers and booleans included). */
export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** JSON argument that may arrive as a JSON string (form encoding) or as a value (JSON body). */
export function jsonArg(v: unknown): { ok: true; value: unknown } | { ok: false } {
  if (v === undefined || v === null || v === '') return { ok: true, value: undefined };
  if (typeof v === 'string') {
    try {
      return { ok: true, value: JSON.parse(v) };
    } catch {
      return { ok: false };
    }
  }
  return { ok: true, value: v };
}

/** Everything handed out is a copy, so a test cannot change the fake's state by accident. */
export const clone = <T>(v: T): T => structuredClone(v);
