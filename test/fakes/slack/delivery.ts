import { randomUUID } from 'node:crypto';
import { parseMaybeJson, postRaw } from './http-util.js';
import { signedHeaders } from './signing.js';
import type { FakeSocketModeServer } from './socket-mode.js';
import type { DeliverOptions, DeliveryKind, DeliveryResult, DeliveryTarget, JsonObject } from './types.js';

/**
 * Inbound delivery, the way Slack sends commands, interactions and events to an app: a signed HTTP
 * POST to its request URL, or an envelope on its Socket Mode connection that waits for the ack.
 */

/** A signed POST: `slash_commands` form-encoded, `interactive` as `payload=<json>`, `events_api` as JSON. */
export async function deliverHttp(
  target: Extract<DeliveryTarget, { mode: 'http' }>,
  kind: DeliveryKind,
  payload: JsonObject,
  options: DeliverOptions,
): Promise<DeliveryResult> {
  let body: string;
  let contentType: string;
  if (kind === 'slash_commands') {
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(payload)) if (v !== undefined && v !== null) fields[k] = String(v);
    body = new URLSearchParams(fields).toString();
    contentType = 'application/x-www-form-urlencoded';
  } else if (kind === 'interactive') {
    body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    contentType = 'application/x-www-form-urlencoded';
  } else {
    body = JSON.stringify(payload);
    contentType = 'application/json';
  }
  const headers: Record<string, string> = {
    'content-type': contentType,
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    accept: '*/*',
  };
  if (!options.unsigned) {
    const ts = options.timestamp ?? Math.floor(Date.now() / 1000);
    Object.assign(headers, signedHeaders(options.signWith ?? target.signingSecret, body, ts));
    if (options.signature !== undefined) headers['x-slack-signature'] = options.signature;
  }
  if (options.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(options.retryNum);
    headers['x-slack-retry-reason'] = options.retryReason ?? 'http_timeout';
  }
  const res = await postRaw(target.url, headers, body, 15_000);
  return {
    mode: 'http',
    acked: res.status >= 200 && res.status < 300,
    status: res.status,
    body: parseMaybeJson(res.text),
    text: res.text,
    headers: res.headers,
  };
}

/** An envelope on the newest (or the named) connection; the answer is the ack's payload. */
export async function deliverSocket(
  socket: FakeSocketModeServer,
  target: Extract<DeliveryTarget, { mode: 'socket' }>,
  kind: DeliveryKind,
  payload: JsonObject,
  options: DeliverOptions & { ackTimeoutMs: number },
): Promise<DeliveryResult> {
  const envelopeId = randomUUID();
  const acceptsDefault =
    kind === 'slash_commands' ||
    (kind === 'interactive' && (payload.type === 'view_submission' || payload.type === 'block_suggestion'));
  const envelope: JsonObject & { envelope_id: string } = {
    envelope_id: envelopeId,
    payload,
    type: kind,
    accepts_response_payload: options.acceptsResponsePayload ?? acceptsDefault,
  };
  if (kind === 'events_api') {
    envelope.retry_attempt = options.retryNum ?? 0;
    envelope.retry_reason = options.retryNum ? (options.retryReason ?? 'timeout') : '';
  }
  const ack = await socket.send(envelope, options.ackTimeoutMs, target.connectionId);
  if (ack === undefined)
    return { mode: 'socket', acked: false, status: 0, body: undefined, text: '', envelopeId };
  const empty = Object.keys(ack).length === 0;
  return {
    mode: 'socket',
    acked: true,
    status: 200,
    body: empty ? undefined : ack,
    text: empty ? '' : JSON.stringify(ack),
    envelopeId,
  };
}
