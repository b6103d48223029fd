import {
  AttachmentBuilder,
  type ChatInputCommandInteraction,
  type Client,
  GatewayIntentBits,
  type Interaction,
  Partials,
  Routes,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeDiscord, startFakeDiscord } from '../discord/index.js';
import { connectFakeClient, nextEvent, waitUntil } from '../discord/testkit.js';

const ALICE = '200000000000000001';
const BOB = '200000000000000002';
const HOME = '100000000000000001';
const FOREIGN = '100000000000000009';
const FOREIGN_CHANNEL = '400000000000000009';

let discord: FakeDiscord | undefined;
afterEach(async () => {
  await discord?.close();
  discord = undefined;
});

async function setup(options: Parameters<typeof startFakeDiscord>[0] = {}) {
  discord = await startFakeDiscord({
    users: [
      { id: ALICE, username: 'alice' },
      { id: BOB, username: 'bob' },
    ],
    guilds: [
      { id: HOME, name: 'Home', members: [{ userId: ALICE }, { userId: BOB }] },
      // A server where the app is only user-installed: the bot user is not a member.
      {
        id: FOREIGN,
        name: 'Elsewhere',
        botMember: false,
        members: [{ userId: ALICE }],
        channels: [{ id: FOREIGN_CHANNEL, name: 'chat' }],
      },
    ],
    ...options,
  });
  const client = await connectFakeClient(discord, {
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel, Partials.Message],
  });
  return { discord, client };
}

function nextChatInput(client: Client): Promise<ChatInputCommandInteraction> {
  return nextEvent(client, 'interactionCreate').then(([i]: [Interaction]) => {
    if (!i.isChatInputCommand()) throw new Error('expected a chat input command');
    return i;
  });
}

describe('interaction contexts', () => {
  it('handles a slash command in a DM with the bot', async () => {
    const { discord, client } = await setup();
    const got = nextChatInput(client);
    discord.invokeSlashCommand({ guildId: null, userId: ALICE, name: 'animate' });
    const interaction = await got;
    expect(interaction.guildId).toBeNull();
    expect(interaction.context).toBe(1);
    expect(interaction.channel?.isDMBased()).toBe(true);
    expect(interaction.user.id).toBe(ALICE);
    await interaction.reply('hello in DM');
    const original = discord.interaction(interaction.id)?.originalMessageId ?? '';
    expect(discord.message(original)?.content).toBe('hello in DM');
  });

  it('user-installed only: interaction token works, bot routes are refused, 5 follow-ups at most', async () => {
    const { discord, client } = await setup();
    const got = nextChatInput(client);
    discord.invokeSlashCommand({ guildId: FOREIGN, userId: ALICE, name: 'animate' });
    const interaction = await got;
    expect(interaction.guildId).toBe(FOREIGN);
    expect(interaction.inCachedGuild()).toBe(false);
    expect(interaction.authorizingIntegrationOwners.userId).toBe(ALICE);
    expect(interaction.authorizingIntegrationOwners.guildId).toBeNull();
    await interaction.deferReply();
    await interaction.editReply('working');
    await expect(
      client.rest.post(Routes.channelMessages(FOREIGN_CHANNEL), { body: { content: 'x' } }),
    ).rejects.toMatchObject({
      code: 50001,
      status: 403,
    });
    for (let i = 0; i < 5; i++) await interaction.followUp(`update ${i}`);
    await expect(interaction.followUp('one too many')).rejects.toMatchObject({ code: 40094 });
  });

  it('enforces the interaction attachment_size_limit on replies', async () => {
    const { discord, client } = await setup();
    const got = nextChatInput(client);
    discord.invokeSlashCommand({ userId: ALICE, name: 'animate', attachmentSizeLimit: 1000 });
    const interaction = await got;
    expect(interaction.attachmentSizeLimit).toBe(1000);
    const err = await interaction
      .reply({ files: [new AttachmentBuilder(Buffer.alloc(1001), { name: 'out.mp4' })] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 40005, status: 413 });
    // Not acknowledged by the failed attempt: a defer still works.
    await interaction.deferReply();
    await interaction.editReply({
      files: [new AttachmentBuilder(Buffer.alloc(1000, 3), { name: 'out.mp4' })],
    });
    const original = discord.interaction(interaction.id)?.originalMessageId ?? '';
    expect(discord.attachmentBytes(original, 0).length).toBe(1000);
    expect(discord.callbacks(interaction.id).map((c) => [c.type, c.status])).toEqual([
      [4, 413],
      [5, 204],
    ]);
  });

  it('builds options from the registered command (types, users, subcommands) and checks them', async () => {
    const { discord, client } = await setup();
    await client.rest.put(Routes.applicationGuildCommands(discord.applicationId, HOME), {
      body: [
        {
          name: 'video',
          description: 'Video commands',
          options: [
            {
              type: 1,
              name: 'animate',
              description: 'Animate an image',
              options: [
                { type: 11, name: 'image', description: 'The image', required: true },
                { type: 10, name: 'strength', description: 'Motion strength' },
                { type: 6, name: 'for', description: 'Deliver to' },
              ],
            },
          ],
        },
      ],
    });
    const got = nextChatInput(client);
    discord.invokeSlashCommand({
      userId: ALICE,
      name: 'video',
      subcommand: 'animate',
      options: {
        image: { bytes: Buffer.from('not really a png'), filename: 'x.png' },
        strength: 1,
        for: BOB,
      },
    });
    const interaction = await got;
    expect(interaction.commandId).toBe(discord.commands(HOME)[0]?.id);
    expect(interaction.options.getSubcommand()).toBe('animate');
    expect(interaction.options.getNumber('strength')).toBe(1);
    expect(interaction.options.getUser('for')?.username).toBe('bob');
    const attachment = interaction.options.getAttachment('image', true);
    expect(attachment.contentType).toBe('image/png');
    expect(attachment.width).toBeNull(); // not decodable as an image
    await interaction.deferReply();

    expect(() =>
      discord.invokeSlashCommand({ userId: ALICE, name: 'video', subcommand: 'animate', options: {} }),
    ).toThrow(/required option image/);
    expect(() =>
      discord.invokeSlashCommand({
        userId: ALICE,
        name: 'video',
        subcommand: 'animate',
        options: { nope: 'x' },
      }),
    ).toThrow(/no option nope/);
  });

  it('acknowledges heartbeats (the client measures a ping)', async () => {
    const { client } = await setup({ heartbeatIntervalMs: 40 });
    await waitUntil(() => client.ws.ping >= 0, 5000, 'a heartbeat ack');
  });
});
