import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { Client, InteractionWebhook } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discordRestAgent } from '../../../src/platforms/discord/rest-agent.js';
import { StreamedMessages } from '../../../src/platforms/discord/upload.js';
import { type DiscordHarness, startDiscordHarness } from '../../support/discord-harness.js';
import { tempDir } from '../../support/media.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

/** Issue 10 item 5: the result's video goes to Discord streamed from its file, never whole in memory. */

const MiB = 1024 * 1024;
const redis = testRedis();

describe('a streamed upload', () => {
  const size = 64 * MiB;
  let media: Awaited<ReturnType<typeof tempDir>>;
  let path: string;
  let server: Server;
  let client: Client;
  const seen: { held: number; body: Buffer; req: IncomingMessage }[] = [];
  let before = 0;

  beforeAll(async () => {
    media = await tempDir('upload');
    path = join(media.dir, 'video.mp4');
    const out = createWriteStream(path);
    for (let written = 0; written < size; written += MiB) out.write(randomBytes(MiB));
    out.end();
    await finished(out);
    // Takes the first MiB, notes what the sending side holds at that moment, then reads the rest.
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let held: number | undefined;
      for await (const chunk of req) {
        chunks.push(chunk as Buffer);
        received += (chunk as Buffer).length;
        if (held === undefined && received >= MiB) held = process.memoryUsage().arrayBuffers - before;
      }
      seen.push({ held: held ?? 0, body: Buffer.concat(chunks), req });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: '1', channel_id: '2' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new Client({
      intents: [],
      rest: { api: `http://127.0.0.1:${port}/api`, agent: discordRestAgent() as never },
    });
    client.rest.setToken('bot-token');
  });

  afterAll(async () => {
    await client.destroy();
    await new Promise((resolve) => server.close(resolve));
    await media.cleanup();
  });

  it('sends a file bigger than the memory it holds, as payload_json plus files[0]', async () => {
    const webhook = new InteractionWebhook(client as Client<true>, '100', 'interaction-token');
    before = process.memoryUsage().arrayBuffers;
    await new StreamedMessages(client).editReply(webhook, { content: 'Done', embeds: [] }, [
      { attachment: path, name: 'kinema-7.mp4' },
    ]);
    expect(seen).toHaveLength(1);
    const [{ held, body, req }] = seen as [(typeof seen)[0]];
    // A whole-file upload holds all 64 MiB (and a copy) before its first byte goes out.
    expect(held).toBeLessThan(size / 4);
    expect(req.method).toBe('PATCH');
    expect(req.url).toBe('/api/v10/webhooks/100/interaction-token/messages/%40original');
    expect(req.headers.authorization).toBeUndefined();
    const form = await new Request('http://upload/', {
      method: 'POST',
      headers: { 'content-type': String(req.headers['content-type']) },
      body: body,
    }).formData();
    expect(JSON.parse(String(form.get('payload_json')))).toMatchObject({
      content: 'Done',
      attachments: [{ id: '0' }],
    });
    const file = form.get('files[0]') as File;
    expect(file.name).toBe('kinema-7.mp4');
    expect(file.type).toBe('video/mp4');
    expect(file.size).toBe(size);
  });
});

describe('a 429 on the upload of a result', () => {
  let h: DiscordHarness;

  beforeAll(async () => {
    h = await startDiscordHarness(
      {},
      {},
      { service: { steps: 1, stepMs: 1 }, bot: { statusIntervalMs: 30_000 } },
    );
    await h.startBot();
    await h.startWorker();
  });

  afterAll(async () => {
    await h.worker?.close();
    await h.close(redis);
    await redis.quit();
  });

  it('is waited out for its retry_after, then the same video is sent again and posted once', async () => {
    h.service.holdNewTasks(true);
    const since = h.discord.requests.length;
    const [invoked] = h.burst(1);
    const original = () => h.discord.interaction(invoked!.id)?.originalMessageId;
    await waitFor(() => original() && h.discord.message(original()!)?.embeds.length, 'the status');
    await h.channelIdle();
    // The next edit of the reply is the result with its video.
    h.discord.setRateLimit('PATCH /webhooks/:application_id/:webhook_token/messages/:message_id', 1, 0.4);
    h.service.release();
    await waitFor(() => h.discord.message(original()!)?.attachments.length, 'the video');

    const uploads = h.discord.requests.slice(since).filter((r) => r.fileCount > 0);
    expect(uploads.map((r) => r.status)).toEqual([429, 200]);
    expect(uploads[1]!.at - uploads[0]!.at).toBeGreaterThanOrEqual(400);
    expect(h.bot!.scheduler.stats.rateLimited).toBe(1);
    const [video] = h.discord.message(original()!)!.attachments;
    expect(video!.filename).toMatch(/^kinema-\d+\.mp4$/);
    expect(video!.size).toBe(h.video.length);
    expect(h.discord.attachmentBytes(original()!, 0).equals(h.video)).toBe(true);
    h.discord.clearRateLimits();
  });
});
