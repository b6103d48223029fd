import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type FakeDiscord, startFakeDiscord } from '../discord/index.js';

let discord: FakeDiscord | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await discord?.close();
  discord = undefined;
});

interface Frame {
  op: number;
  d: unknown;
  s?: number;
  t?: string;
}

function open(
  url: string,
): Promise<{ ws: WebSocket; frames: Frame[]; next: () => Promise<Frame>; closed: Promise<number> }> {
  const ws = new WebSocket(url);
  sockets.push(ws);
  const frames: Frame[] = [];
  const waiters: ((f: Frame) => void)[] = [];
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as Frame;
    const waiter = waiters.shift();
    if (waiter) waiter(frame);
    else frames.push(frame);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)));
  const next = () => {
    const f = frames.shift();
    return f ? Promise.resolve(f) : new Promise<Frame>((resolve) => waiters.push(resolve));
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, frames, next, closed }));
    ws.once('error', reject);
  });
}

describe('fake discord wire protocol', () => {
  it('serves GET /gateway/bot with the loopback gateway and session_start_limit', async () => {
    discord = await startFakeDiscord();
    const res = await fetch(`${discord.apiUrl}/v10/gateway/bot`, {
      headers: { Authorization: `Bot ${discord.token}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      url: discord.gatewayUrl,
      shards: 1,
      session_start_limit: { total: expect.any(Number), remaining: expect.any(Number), max_concurrency: 1 },
    });
    const anon = await fetch(`${discord.apiUrl}/v10/gateway/bot`);
    expect(anon.status).toBe(401);
    expect(await anon.json()).toMatchObject({ code: 0, message: '401: Unauthorized' });
    const unknown = await fetch(`${discord.apiUrl}/v10/nope`, {
      headers: { Authorization: `Bot ${discord.token}` },
    });
    expect(unknown.status).toBe(404);
  });

  it('HELLO, heartbeat ACK, READY then GUILD_CREATE with increasing sequence numbers', async () => {
    discord = await startFakeDiscord({ heartbeatIntervalMs: 1234 });
    const { ws, next } = await open(`${discord.gatewayUrl}/?v=10&encoding=json`);
    expect(await next()).toEqual({ op: 10, d: { heartbeat_interval: 1234 } });
    ws.send(JSON.stringify({ op: 1, d: null }));
    expect(await next()).toMatchObject({ op: 11 });
    ws.send(
      JSON.stringify({
        op: 2,
        d: { token: discord.token, intents: 1, properties: { os: 'linux' }, shard: [0, 1] },
      }),
    );
    const ready = await next();
    expect(ready).toMatchObject({ op: 0, t: 'READY', s: 1 });
    expect(ready.d).toMatchObject({
      v: 10,
      user: { id: discord.botUserId, bot: true },
      guilds: [{ id: discord.guild().id, unavailable: true }],
      application: { id: discord.applicationId, flags: 0 },
      resume_gateway_url: discord.gatewayUrl,
      shard: [0, 1],
      session_id: expect.any(String),
    });
    const guildCreate = await next();
    expect(guildCreate).toMatchObject({
      op: 0,
      t: 'GUILD_CREATE',
      s: 2,
      d: { id: discord.guild().id, unavailable: false },
    });
    // Without GUILD_MEMBERS only the bot's own member is included.
    expect((guildCreate.d as { members: { user: { id: string } }[] }).members.map((m) => m.user.id)).toEqual([
      discord.botUserId,
    ]);
    expect(discord.identifies[0]).toMatchObject({ intents: 1, tokenOk: true, shard: [0, 1] });
  });

  it('closes 4004 on a bad token, 4003 before identify, 4012 on a wrong version', async () => {
    discord = await startFakeDiscord();
    const a = await open(`${discord.gatewayUrl}/?v=10&encoding=json`);
    await a.next();
    a.ws.send(JSON.stringify({ op: 2, d: { token: 'wrong', intents: 0, properties: {} } }));
    expect(await a.closed).toBe(4004);

    const b = await open(`${discord.gatewayUrl}/?v=10&encoding=json`);
    await b.next();
    b.ws.send(JSON.stringify({ op: 8, d: { guild_id: '1' } }));
    expect(await b.closed).toBe(4003);

    const c = await open(`${discord.gatewayUrl}/?v=6&encoding=json`);
    expect(await c.closed).toBe(4012);

    const d = await open(`${discord.gatewayUrl}/?v=10&encoding=json`);
    await d.next();
    d.ws.send(JSON.stringify({ op: 2, d: { token: discord.token, intents: 1 << 1, properties: {} } }));
    expect((await d.next()).t).toBe('READY');
  });

  it('refuses privileged intents the application is not allowed (4014)', async () => {
    discord = await startFakeDiscord({ privilegedIntents: 0 });
    const a = await open(`${discord.gatewayUrl}/?v=10&encoding=json`);
    await a.next();
    a.ws.send(JSON.stringify({ op: 2, d: { token: discord.token, intents: 1 << 15, properties: {} } }));
    expect(await a.closed).toBe(4014);
  });

  it('answers a forced 429 with the documented headers and body', async () => {
    discord = await startFakeDiscord();
    const channelId = discord.channelId('general');
    discord.setRateLimit('POST /channels/:channel_id/messages', 1, 2.5);
    const res = await fetch(`${discord.apiUrl}/v10/channels/${channelId}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bot ${discord.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ content: 'hi' }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2.5');
    expect(res.headers.get('x-ratelimit-scope')).toBe('user');
    expect(res.headers.get('x-ratelimit-global')).toBeNull();
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(res.headers.get('x-ratelimit-bucket')).toMatch(/^[0-9a-f]+$/);
    expect(await res.json()).toEqual({
      message: 'You are being rate limited.',
      retry_after: 2.5,
      global: false,
    });
    const again = await fetch(`${discord.apiUrl}/v10/channels/${channelId}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bot ${discord.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ content: '' }),
    });
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ message: 'Cannot send an empty message', code: 50006 });
  });

  it('serves signed CDN URLs only until they expire or the file is removed', async () => {
    discord = await startFakeDiscord({ users: [{ id: '200000000000000001', username: 'alice' }] });
    const message = discord.createMessage({
      channelId: discord.channelId('general'),
      authorId: '200000000000000001',
      attachments: [
        { bytes: Buffer.from('GIF89a\u0002\u0000\u0003\u0000'), filename: 'tiny.gif', expiresInMs: 60_000 },
      ],
    });
    const attachment = message.attachments[0];
    expect(attachment).toMatchObject({ filename: 'tiny.gif', contentType: 'image/gif', width: 2, height: 3 });
    const url = attachment?.url ?? '';
    expect(url).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/attachments\/\d+\/\d+\/tiny\.gif\?ex=[0-9a-f]+&is=[0-9a-f]+&hm=[0-9a-f]{64}&$/,
    );
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(url.split('?')[0] ?? '')).status).toBe(404);
    discord.deleteAttachment(attachment?.id ?? '');
    const gone = await fetch(url);
    expect(gone.status).toBe(404);
    expect(await gone.text()).toBe('This content is no longer available.');
  });
});
