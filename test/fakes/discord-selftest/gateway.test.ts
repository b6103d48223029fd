import { ChannelType, GatewayIntentBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeDiscord, startFakeDiscord } from '../discord/index.js';
import {
  connectFakeClient,
  createFakeClient,
  loginFakeClient,
  nextEvent,
  waitUntil,
} from '../discord/testkit.js';

let discord: FakeDiscord | undefined;
afterEach(async () => {
  await discord?.close();
  discord = undefined;
});

describe('fake discord gateway with the real discord.js client', () => {
  it('logs in, reaches ready and sees the guild, its channels, roles and the bot member', async () => {
    discord = await startFakeDiscord({
      users: [{ id: '200000000000000001', username: 'alice' }],
      guilds: [
        {
          id: '100000000000000001',
          name: 'Kinema Lab',
          premiumTier: 2,
          roles: [{ id: '300000000000000001', name: 'Bot', permissions: (1n << 13n).toString() }],
          botRoles: ['Bot'],
          members: [{ userId: '200000000000000001' }],
          channels: [
            { id: '400000000000000001', name: 'general' },
            { id: '400000000000000002', name: 'renders' },
          ],
        },
      ],
    });
    const client = await connectFakeClient(discord);

    expect(client.user.id).toBe(discord.botUserId);
    expect(client.application.id).toBe(discord.applicationId);
    const guild = client.guilds.cache.get('100000000000000001');
    expect(guild?.name).toBe('Kinema Lab');
    expect(guild?.premiumTier).toBe(2);
    expect(guild?.available).toBe(true);
    const channel = client.channels.cache.get('400000000000000002');
    expect(channel?.type).toBe(ChannelType.GuildText);
    expect(channel?.isTextBased() && 'name' in channel ? channel.name : null).toBe('renders');
    const me = guild?.members.me;
    expect(me?.roles.cache.has('300000000000000001')).toBe(true);
    expect(me?.permissions.has('ManageMessages')).toBe(true);

    // The fake recorded the identify with the client's intents.
    const identify = discord.identifies.at(-1);
    expect(identify?.tokenOk).toBe(true);
    expect(identify?.intents).toBe(
      GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages | GatewayIntentBits.GuildMessageReactions,
    );
    expect(discord.dispatches.map((d) => d.t).slice(0, 2)).toEqual(['READY', 'GUILD_CREATE']);
    expect(
      discord.requests.some((r) => r.route === '/gateway/bot' && r.auth === 'bot' && r.status === 200),
    ).toBe(true);
  });

  it('rejects a wrong token at GET /gateway/bot (discord.js reports TokenInvalid)', async () => {
    discord = await startFakeDiscord();
    const client = createFakeClient(discord);
    await expect(client.login('not-the-token')).rejects.toMatchObject({ code: 'TokenInvalid' });
    expect(discord.requests.find((r) => r.route === '/gateway/bot')?.status).toBe(401);
  });

  it('resumes after op 7 RECONNECT and keeps delivering events', async () => {
    discord = await startFakeDiscord({ users: [{ id: '200000000000000001', username: 'alice' }] });
    const client = await connectFakeClient(discord);
    const channelId = discord.channelId('general');
    const resumed = new Promise<void>((resolve) =>
      client.ws.shards.first()?.once('resumed', () => resolve()),
    );
    discord.reconnectGateway();
    await resumed;
    expect(discord.resumes.at(-1)?.ok).toBe(true);
    const created = nextEvent(client, 'messageCreate');
    discord.createMessage({ channelId, authorId: '200000000000000001', content: 'hello after resume' });
    const [message] = await created;
    expect(message.channelId).toBe(channelId);
    // Without the MessageContent intent a user's message arrives without content.
    expect(message.content).toBe('');
    await waitUntil(() => discord?.connectedSessions() === 1);
  });

  it('replays an interaction dispatched while the client was disconnected once it resumes', async () => {
    discord = await startFakeDiscord({ users: [{ id: '200000000000000001', username: 'alice' }] });
    const client = await connectFakeClient(discord);
    discord.disconnectGateway(4000);
    await waitUntil(() => discord?.connectedSessions() === 0);
    const got = nextEvent(client, 'interactionCreate');
    const invoked = discord.invokeSlashCommand({ userId: '200000000000000001', name: 'animate' });
    const [interaction] = await got;
    expect(interaction.id).toBe(invoked.id);
    expect(discord.resumes.at(-1)?.ok).toBe(true);
  });

  it('sends message content to clients with the MessageContent intent', async () => {
    discord = await startFakeDiscord({ users: [{ id: '200000000000000001', username: 'alice' }] });
    const client = createFakeClient(discord, {
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent],
    });
    await loginFakeClient(discord, client);
    const created = nextEvent(client, 'messageCreate');
    discord.createMessage({
      channelId: discord.channelId('general'),
      authorId: '200000000000000001',
      content: 'hi bot',
    });
    const [message] = await created;
    expect(message.content).toBe('hi bot');
    expect(message.author.username).toBe('alice');
  });
});
