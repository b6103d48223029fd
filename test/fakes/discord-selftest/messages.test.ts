import {
  AttachmentBuilder,
  type Client,
  DiscordAPIError,
  type GuildTextBasedChannel,
  PermissionFlagsBits,
  type RateLimitData,
  RESTEvents,
  Routes,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeDiscord, type FakeDiscordOptions, startFakeDiscord } from '../discord/index.js';
import { connectFakeClient, nextEvent, waitUntil } from '../discord/testkit.js';

const ALICE = '200000000000000001';
const BOB = '200000000000000002';
const GUILD = '100000000000000001';
const BOOSTED = '100000000000000002';
const CHANNEL = '400000000000000001';
const LOCKED = '400000000000000002';
const BOOSTED_CHANNEL = '400000000000000003';
const BOT_ROLE = '300000000000000001';

let discord: FakeDiscord | undefined;
afterEach(async () => {
  await discord?.close();
  discord = undefined;
});

function world(overrides: FakeDiscordOptions = {}): FakeDiscordOptions {
  return {
    users: [
      { id: ALICE, username: 'alice' },
      { id: BOB, username: 'bob' },
    ],
    uploadLimitBytes: 4096,
    tierUploadLimits: { 2: 16_384 },
    guilds: [
      {
        id: GUILD,
        name: 'Kinema Lab',
        premiumTier: 0,
        roles: [{ id: BOT_ROLE, name: 'Kinema', permissions: PermissionFlagsBits.ManageMessages }],
        botRoles: [BOT_ROLE],
        members: [{ userId: ALICE }, { userId: BOB }],
        channels: [
          { id: CHANNEL, name: 'general' },
          {
            id: LOCKED,
            name: 'locked',
            overwrites: [{ id: BOT_ROLE, type: 'role', deny: PermissionFlagsBits.ManageMessages }],
          },
        ],
      },
      {
        id: BOOSTED,
        name: 'Boosted',
        premiumTier: 2,
        members: [{ userId: ALICE }],
        channels: [{ id: BOOSTED_CHANNEL, name: 'renders' }],
      },
    ],
    ...overrides,
  };
}

async function textChannel(client: Client, id: string): Promise<GuildTextBasedChannel> {
  const channel = await client.channels.fetch(id);
  if (!channel?.isTextBased() || channel.isDMBased()) throw new Error('not a guild text channel');
  return channel;
}

describe('channel messages against the fake', () => {
  it('takes a multipart upload sent chunked, with no Content-Length (a body streamed from a file)', async () => {
    discord = await startFakeDiscord(world());
    const video = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
    const form = new FormData();
    form.append('payload_json', JSON.stringify({ content: 'Streamed', attachments: [{ id: '0' }] }));
    form.append('files[0]', new Blob([video], { type: 'video/mp4' }), 'result.mp4');
    const encoded = new Response(form);
    const res = await fetch(`${discord.apiUrl}/v10/channels/${CHANNEL}/messages`, {
      method: 'POST',
      headers: {
        Authorization: `Bot ${discord.token}`,
        'Content-Type': encoded.headers.get('content-type') ?? '',
      },
      body: encoded.body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    expect(discord.message(id)?.content).toBe('Streamed');
    expect(discord.message(id)?.attachments[0]).toMatchObject({ filename: 'result.mp4', size: 3000 });
    expect(discord.attachmentBytes(id, 0).equals(video)).toBe(true);
  });

  it('stores uploaded files byte for byte and edits through the bot-token route', async () => {
    discord = await startFakeDiscord(world());
    const client = await connectFakeClient(discord);
    const channel = await textChannel(client, CHANNEL);
    const video = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));

    const created = nextEvent(client, 'messageCreate', (m) => m.content === 'Your video');
    const sent = await channel.send({
      content: 'Your video',
      files: [new AttachmentBuilder(video, { name: 'result.mp4' })],
    });
    const [fromGateway] = await created;
    expect(fromGateway.id).toBe(sent.id);
    expect(discord.attachmentBytes(sent.id, 0).equals(video)).toBe(true);
    const attachment = sent.attachments.first();
    expect(attachment).toMatchObject({ name: 'result.mp4', size: video.length, contentType: 'video/mp4' });
    const downloaded = Buffer.from(await (await fetch(attachment?.url ?? '')).arrayBuffer());
    expect(downloaded.equals(video)).toBe(true);
    const post = discord.requests.find(
      (r) => r.method === 'POST' && r.route === '/channels/:channel_id/messages',
    );
    expect(post).toMatchObject({ auth: 'bot', status: 200, fileCount: 1 });

    const edited = await sent.edit({ content: 'Your video (done)' });
    expect(edited.content).toBe('Your video (done)');
    expect(edited.attachments.size).toBe(1); // attachments kept
    expect(discord.message(sent.id)).toMatchObject({ content: 'Your video (done)', editCount: 1 });
    const patch = discord.requests.find((r) => r.method === 'PATCH');
    expect(patch).toMatchObject({
      route: '/channels/:channel_id/messages/:message_id',
      auth: 'bot',
      status: 200,
    });

    // Replacing the attachments with a new file.
    const replaced = await sent.edit({
      files: [new AttachmentBuilder(Buffer.from('v2'), { name: 'v2.txt' })],
      attachments: [],
    });
    expect(replaced.attachments.map((a) => a.name)).toEqual(['v2.txt']);
    expect(discord.attachmentBytes(sent.id, 0).toString()).toBe('v2');

    // Every response carries rate-limit headers.
    const res = await fetch(`${discord.apiUrl}/v10/channels/${CHANNEL}/messages/${sent.id}`, {
      headers: { Authorization: `Bot ${discord.token}` },
    });
    for (const h of [
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
      'x-ratelimit-reset-after',
      'x-ratelimit-bucket',
    ]) {
      expect(res.headers.get(h)).toBeTruthy();
    }
  });

  it('answers 413 / 40005 above the upload limit, which rises with the boost tier', async () => {
    discord = await startFakeDiscord(world());
    const client = await connectFakeClient(discord);
    const channel = await textChannel(client, CHANNEL);
    const big = Buffer.alloc(8192, 1);
    const err = await channel
      .send({ files: [new AttachmentBuilder(big, { name: 'big.mp4' })] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect(err).toMatchObject({ code: 40005, status: 413 });
    expect(discord.messages(CHANNEL)).toHaveLength(0);

    const boosted = await textChannel(client, BOOSTED_CHANNEL);
    const sent = await boosted.send({ files: [new AttachmentBuilder(big, { name: 'big.mp4' })] });
    expect(discord.attachmentBytes(sent.id, 0).length).toBe(8192);
  });

  it('waits out a 429 on the edit route, then succeeds', async () => {
    discord = await startFakeDiscord(world());
    const client = await connectFakeClient(discord);
    const channel = await textChannel(client, CHANNEL);
    const sent = await channel.send('progress 10%');
    const limited: RateLimitData[] = [];
    client.rest.on(RESTEvents.RateLimited, (info) => limited.push(info));
    discord.setRateLimit('PATCH /channels/:channel_id/messages/:message_id', 1, 0.05);

    const edited = await sent.edit('progress 20%');
    expect(edited.content).toBe('progress 20%');
    const patches = discord.requests.filter((r) => r.method === 'PATCH').map((r) => r.status);
    expect(patches).toEqual([429, 200]);
    expect(limited.length).toBeGreaterThan(0);
    expect(discord.message(sent.id)?.content).toBe('progress 20%');
  });

  it('caps edits to old messages with 30046', async () => {
    discord = await startFakeDiscord(world());
    const client = await connectFakeClient(discord);
    const channel = await textChannel(client, CHANNEL);
    const sent = await channel.send('status');
    discord.ageMessage(sent.id, 2 * 60 * 60 * 1000);
    for (let i = 1; i <= 3; i++) await sent.edit(`status ${i}`);
    const err = await sent.edit('status 4').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect(err).toMatchObject({ code: 30046, status: 400 });
    expect(discord.message(sent.id)?.content).toBe('status 3');
    // A fresh message is not capped.
    const fresh = await channel.send('new status');
    for (let i = 1; i <= 5; i++) await fresh.edit(`new status ${i}`);
  });

  it('answers 10008 for unknown or deleted messages and 50005 for others’ messages', async () => {
    discord = await startFakeDiscord(world());
    const client = await connectFakeClient(discord);
    const channel = await textChannel(client, CHANNEL);
    const sent = await channel.send('to delete');
    const deleted = nextEvent(client, 'messageDelete');
    discord.deleteMessage(sent.id);
    await deleted;
    await expect(channel.messages.edit(sent.id, 'x')).rejects.toMatchObject({ code: 10008, status: 404 });
    const alices = discord.createMessage({ channelId: CHANNEL, authorId: ALICE, content: 'mine' });
    await expect(channel.messages.edit(alices.id, 'hijack')).rejects.toMatchObject({
      code: 50005,
      status: 403,
    });
  });

  it('delivers a reaction on an uncached message through partials; removing it needs Manage Messages', async () => {
    discord = await startFakeDiscord(world());
    // History from before the bot process started: a bot message in each channel.
    const botId = discord.botUserId;
    const result = discord.createMessage({
      channelId: CHANNEL,
      authorId: botId,
      content: 'Here is your video',
      ageMs: 3_600_000,
      dispatch: false,
    });
    const locked = discord.createMessage({
      channelId: LOCKED,
      authorId: botId,
      content: 'locked result',
      dispatch: false,
    });

    const client = await connectFakeClient(discord);
    const got = nextEvent(client, 'messageReactionAdd');
    discord.addReaction({ channelId: CHANNEL, messageId: result.id, userId: ALICE, emoji: '🔁' });
    const [reaction, user] = await got;
    expect(reaction.partial).toBe(true);
    expect(reaction.message.partial).toBe(true);
    expect(reaction.emoji.name).toBe('🔁');
    expect(user.id).toBe(ALICE);
    const message = await reaction.message.fetch();
    expect(message.author.id).toBe(botId);
    expect(message.content).toBe('Here is your video');

    await reaction.users.remove(ALICE);
    expect(discord.message(result.id)?.reactions).toEqual([]);
    const del = discord.requests.find((r) => r.method === 'DELETE' && r.route.includes('/reactions/'));
    expect(del).toMatchObject({ status: 204, auth: 'bot' });
    expect(del?.path).toContain(`/reactions/🔁/${ALICE}`);

    // In #locked the bot's role is denied Manage Messages: 403 / 50013.
    const got2 = nextEvent(client, 'messageReactionAdd');
    discord.addReaction({ messageId: locked.id, userId: BOB, emoji: '🎲' });
    const [reaction2] = await got2;
    const err = await reaction2.users.remove(BOB).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect(err).toMatchObject({ code: 50013, status: 403 });

    // The bot's own reaction comes back over the gateway too.
    const own = nextEvent(client, 'messageReactionAdd', (_r, u) => u.id === botId);
    await message.react('✅');
    await own;
    expect(discord.message(result.id)?.reactions).toEqual([{ emoji: '✅', userIds: [botId] }]);
  });

  it('stores bulk-overwritten guild and global commands', async () => {
    discord = await startFakeDiscord(world());
    const client = await connectFakeClient(discord);
    const body = [
      {
        name: 'animate',
        description: 'Animate an image',
        contexts: [0],
        integration_types: [0],
        options: [
          { type: 11, name: 'image', description: 'The still image', required: true },
          { type: 3, name: 'prompt', description: 'What happens', required: true },
        ],
      },
      { type: 3, name: 'Animate this' },
    ];
    const saved = (await client.rest.put(Routes.applicationGuildCommands(discord.applicationId, GUILD), {
      body,
    })) as {
      id: string;
      name: string;
      guild_id: string;
    }[];
    expect(saved.map((c) => c.name)).toEqual(['animate', 'Animate this']);
    expect(saved.every((c) => c.guild_id === GUILD && /^\d{17,20}$/.test(c.id))).toBe(true);
    expect(discord.commands(GUILD).map((c) => c.name)).toEqual(['animate', 'Animate this']);

    // Overwriting again keeps ids and drops missing commands.
    const again = (await client.rest.put(Routes.applicationGuildCommands(discord.applicationId, GUILD), {
      body: [body[0]],
    })) as { id: string }[];
    expect(again[0]?.id).toBe(saved[0]?.id);
    expect(discord.commands(GUILD)).toHaveLength(1);

    await client.rest.put(Routes.applicationCommands(discord.applicationId), {
      body: [{ name: 'quota', description: 'Your quota' }],
    });
    expect(discord.commands(null).map((c) => c.name)).toEqual(['quota']);
    const fetched = await client.application.commands.fetch();
    expect(fetched.map((c) => c.name)).toEqual(['quota']);

    // Invalid names are refused like Discord does (50035 with an errors tree).
    const err = await client.rest
      .put(Routes.applicationCommands(discord.applicationId), {
        body: [{ name: 'Bad Name', description: 'x' }],
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 50035, status: 400 });
    expect((err as DiscordAPIError).rawError).toMatchObject({
      errors: { '0': { name: { _errors: [{ code: 'APPLICATION_COMMAND_INVALID_NAME' }] } } },
    });
  });

  it('serves the DM channel route and messages in DMs', async () => {
    discord = await startFakeDiscord(world());
    const client = await connectFakeClient(discord);
    const alice = await client.users.fetch(ALICE);
    const dm = await alice.send('Your job finished');
    expect(dm.channel.isDMBased()).toBe(true);
    await waitUntil(() => discord?.messages(dm.channelId).length === 1);
    expect(discord.messages(dm.channelId)[0]?.content).toBe('Your job finished');
  });
});
