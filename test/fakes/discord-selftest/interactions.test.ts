import {
  ActionRowBuilder,
  ButtonBuilder,
  type ButtonInteraction,
  ButtonStyle,
  type ChatInputCommandInteraction,
  DiscordAPIError,
  type Interaction,
  type MessageContextMenuCommandInteraction,
  MessageFlags,
  ModalBuilder,
  type ModalSubmitInteraction,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeDiscord, startFakeDiscord } from '../discord/index.js';
import { connectFakeClient, nextEvent, waitUntil } from '../discord/testkit.js';

const ALICE = '200000000000000001';
const GUILD = '100000000000000001';
const CHANNEL = '400000000000000001';

/** A 3×2 PNG (only the header matters for dimensions). */
function png(width: number, height: number, extra = 64): Buffer {
  const header = Buffer.from([
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
  ]);
  const dims = Buffer.alloc(8);
  dims.writeUInt32BE(width, 0);
  dims.writeUInt32BE(height, 4);
  return Buffer.concat([header, dims, Buffer.alloc(extra, 7)]);
}

let discord: FakeDiscord | undefined;
afterEach(async () => {
  await discord?.close();
  discord = undefined;
});

async function setup(options: Parameters<typeof startFakeDiscord>[0] = {}) {
  discord = await startFakeDiscord({
    users: [{ id: ALICE, username: 'alice' }],
    guilds: [
      {
        id: GUILD,
        name: 'Kinema Lab',
        channels: [{ id: CHANNEL, name: 'general' }],
        members: [{ userId: ALICE }],
      },
    ],
    ...options,
  });
  const client = await connectFakeClient(discord);
  return { discord, client };
}

function nextInteraction<T extends Interaction>(client: Parameters<typeof nextEvent>[0]): Promise<T> {
  return nextEvent(client, 'interactionCreate').then(([i]) => i as T);
}

describe('interactions against the fake', () => {
  it('delivers a slash command with an attachment; defer, editReply and the CDN work', async () => {
    const { discord, client } = await setup();
    const image = png(640, 480);
    const got = nextInteraction<ChatInputCommandInteraction>(client);
    const invoked = discord.invokeSlashCommand({
      userId: ALICE,
      name: 'animate',
      options: {
        prompt: 'a cat surfing',
        seconds: 5,
        image: { bytes: image, filename: 'cat.png', contentType: 'image/png' },
      },
      attachmentSizeLimit: 26_214_400,
    });
    const interaction = await got;

    expect(interaction.isChatInputCommand()).toBe(true);
    expect(interaction.id).toBe(invoked.id);
    expect(interaction.commandName).toBe('animate');
    expect(interaction.guildId).toBe(GUILD);
    expect(interaction.channelId).toBe(CHANNEL);
    expect(interaction.user.id).toBe(ALICE);
    expect(interaction.attachmentSizeLimit).toBe(26_214_400);
    expect(interaction.appPermissions.has('SendMessages')).toBe(true);
    expect(interaction.memberPermissions?.has('ViewChannel')).toBe(true);
    expect(interaction.authorizingIntegrationOwners.guildId).toBe(GUILD);
    expect(interaction.context).toBe(0);
    expect(interaction.options.getString('prompt')).toBe('a cat surfing');
    expect(interaction.options.getInteger('seconds')).toBe(5);
    const attachment = interaction.options.getAttachment('image', true);
    expect(attachment.size).toBe(image.length);
    expect(attachment.contentType).toBe('image/png');
    expect(attachment.width).toBe(640);
    expect(attachment.height).toBe(480);
    expect(attachment.ephemeral).toBe(true);
    expect(attachment.url).toMatch(
      /\/ephemeral-attachments\/.+\/cat\.png\?ex=[0-9a-f]+&is=[0-9a-f]+&hm=[0-9a-f]+&$/,
    );

    await interaction.deferReply();
    const callbacks = discord.callbacks(interaction.id);
    expect(callbacks).toMatchObject([{ type: 5, status: 204, withResponse: false }]);
    const callbackRequest = discord.requests.find(
      (r) => r.route === '/interactions/:interaction_id/:interaction_token/callback',
    );
    expect(callbackRequest?.auth).toBe('none');

    // The CDN serves the user's upload (signed URL, no auth).
    const download = await fetch(attachment.url);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await download.arrayBuffer()).equals(image)).toBe(true);
    const tampered = await fetch(attachment.url.replace(/hm=[0-9a-f]+/, 'hm=00'));
    expect(tampered.status).toBe(404);
    discord.expireAttachmentUrls();
    expect((await fetch(attachment.url)).status).toBe(404);

    const edited = await interaction.editReply({ content: 'Queued: position 1' });
    expect(edited.content).toBe('Queued: position 1');
    const original = discord.message(edited.id);
    expect(original?.content).toBe('Queued: position 1');
    expect(original?.interactionId).toBe(interaction.id);
    expect(original?.flags).toBe(0); // the LOADING flag is gone after the edit
    const editRequest = discord.requests.find(
      (r) => r.method === 'PATCH' && r.route.startsWith('/webhooks/'),
    );
    expect(editRequest?.path).toContain('/messages/@original');
    expect(editRequest?.auth).toBe('none');

    // A follow-up and a second acknowledgement.
    const followUp = await interaction.followUp({ content: 'done', flags: MessageFlags.Ephemeral });
    expect(discord.message(followUp.id)?.ephemeral).toBe(true);
    await expect(
      client.rest.post(`/interactions/${interaction.id}/${interaction.token}/callback`, {
        body: { type: 5 },
        auth: false,
      }),
    ).rejects.toMatchObject({ code: 40060, status: 400 });
  });

  it('answers 10062 to a callback after the 3 s deadline', async () => {
    const { discord, client } = await setup({ interactionDeadlineMs: 50 });
    const got = nextInteraction<ChatInputCommandInteraction>(client);
    discord.invokeSlashCommand({ userId: ALICE, name: 'animate' });
    const interaction = await got;
    await new Promise((r) => setTimeout(r, 120));
    const err = await interaction.deferReply().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect(err).toMatchObject({ code: 10062, status: 404 });
    expect(discord.callbacks(interaction.id)).toMatchObject([{ type: 5, status: 404, code: 10062 }]);
  });

  it('answers 10062 when the deadline is forced past (no sleeping)', async () => {
    const { discord, client } = await setup();
    const got = nextInteraction<ChatInputCommandInteraction>(client);
    const invoked = discord.invokeSlashCommand({ userId: ALICE, name: 'animate' });
    const interaction = await got;
    discord.expireInteractionDeadline(invoked.id);
    await expect(interaction.reply('too late')).rejects.toMatchObject({ code: 10062 });
  });

  it('rejects editReply with 50027 once the interaction token expired', async () => {
    const { discord, client } = await setup();
    const got = nextInteraction<ChatInputCommandInteraction>(client);
    discord.invokeSlashCommand({ userId: ALICE, name: 'animate' });
    const interaction = await got;
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    discord.expireInteractionTokens();
    const err = await interaction.editReply('finished').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect(err).toMatchObject({ code: 50027, status: 401 });
    // The ephemeral reply is invisible to bot-token routes.
    const original = discord.interaction(interaction.id)?.originalMessageId ?? '';
    await expect(client.rest.get(`/channels/${CHANNEL}/messages/${original}`)).rejects.toMatchObject({
      code: 10008,
    });
  });

  it('expires after the configured token lifetime', async () => {
    const { discord, client } = await setup({ interactionTokenTtlMs: 30 });
    const got = nextInteraction<ChatInputCommandInteraction>(client);
    discord.invokeSlashCommand({ userId: ALICE, name: 'animate' });
    const interaction = await got;
    await interaction.deferReply();
    await new Promise((r) => setTimeout(r, 80));
    await expect(interaction.followUp('late')).rejects.toMatchObject({ code: 50027 });
  });

  it('returns the callback response with withResponse', async () => {
    const { discord, client } = await setup();
    const got = nextInteraction<ChatInputCommandInteraction>(client);
    discord.invokeSlashCommand({ userId: ALICE, name: 'animate' });
    const interaction = await got;
    const response = await interaction.deferReply({ withResponse: true });
    expect(response.interaction.id).toBe(interaction.id);
    expect(response.interaction.responseMessageLoading).toBe(true);
    expect(response.resource?.message?.id).toBe(discord.interaction(interaction.id)?.originalMessageId);
    // A non-ephemeral reply can be edited with the bot token (D2).
    const message = response.resource?.message;
    expect(message).toBeTruthy();
    const edited = await message?.edit('via bot token');
    expect(edited?.content).toBe('via bot token');
  });

  it('delivers a button click as ButtonInteraction; deferUpdate and editReply edit the message', async () => {
    const { discord, client } = await setup();
    const channel = await client.channels.fetch(CHANNEL);
    if (!channel?.isSendable()) throw new Error('not sendable');
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('rerun:job-1').setLabel('Rerun').setStyle(ButtonStyle.Primary),
      new ButtonBuilder().setCustomId('cancel:job-1').setLabel('Cancel').setStyle(ButtonStyle.Danger),
    );
    const sent = await channel.send({ content: 'Rendering…', components: [row] });

    const got = nextInteraction<ButtonInteraction>(client);
    discord.clickButton({ messageId: sent.id, customId: 'cancel:job-1', userId: ALICE });
    const click = await got;
    expect(click.isButton()).toBe(true);
    expect(click.customId).toBe('cancel:job-1');
    expect(click.message.id).toBe(sent.id);
    expect(click.user.id).toBe(ALICE);
    await click.deferUpdate();
    expect(discord.callbacks(click.id)).toMatchObject([{ type: 6, status: 204 }]);
    await click.editReply({ content: 'Cancelled', components: [] });
    expect(discord.message(sent.id)).toMatchObject({ content: 'Cancelled', components: [] });
    expect(() => discord.clickButton({ messageId: sent.id, customId: 'rerun:job-1', userId: ALICE })).toThrow(
      /no button/,
    );
  });

  it('shows a modal from a button and receives the submission', async () => {
    const { discord, client } = await setup();
    const channel = await client.channels.fetch(CHANNEL);
    if (!channel?.isSendable()) throw new Error('not sendable');
    const sent = await channel.send({
      content: 'done',
      components: [
        new ActionRowBuilder<ButtonBuilder>().addComponents(
          new ButtonBuilder().setCustomId('remix:job-1').setLabel('Remix').setStyle(ButtonStyle.Secondary),
        ),
      ],
    });
    const got = nextInteraction<ButtonInteraction>(client);
    const click = discord.clickButton({ messageId: sent.id, customId: 'remix:job-1', userId: ALICE });
    const interaction = await got;
    await interaction.showModal(
      new ModalBuilder()
        .setCustomId('remix-modal:job-1')
        .setTitle('Remix')
        .addComponents(
          new ActionRowBuilder<TextInputBuilder>().addComponents(
            new TextInputBuilder()
              .setCustomId('prompt')
              .setLabel('Prompt')
              .setStyle(TextInputStyle.Paragraph),
          ),
        ),
    );
    const submitted = nextInteraction<ModalSubmitInteraction>(client);
    discord.submitModal({ fromInteractionId: click.id, userId: ALICE, fields: { prompt: 'a dog instead' } });
    const modal = await submitted;
    expect(modal.isModalSubmit()).toBe(true);
    expect(modal.customId).toBe('remix-modal:job-1');
    expect(modal.fields.getTextInputValue('prompt')).toBe('a dog instead');
    await modal.deferUpdate();
    expect(discord.callbacks(modal.id)).toMatchObject([{ type: 6, status: 204 }]);
  });

  it('delivers a message context-menu command with the target message and its attachment', async () => {
    const { discord, client } = await setup();
    const posted = discord.createMessage({
      channelId: CHANNEL,
      authorId: ALICE,
      content: 'look',
      attachments: [{ bytes: png(32, 16), filename: 'still.png' }],
    });
    const got = nextInteraction<MessageContextMenuCommandInteraction>(client);
    discord.invokeMessageCommand({ userId: ALICE, name: 'Animate this', targetMessageId: posted.id });
    const interaction = await got;
    expect(interaction.isMessageContextMenuCommand()).toBe(true);
    expect(interaction.targetMessage.id).toBe(posted.id);
    const attachment = interaction.targetMessage.attachments.first();
    expect(attachment).toMatchObject({ name: 'still.png', contentType: 'image/png', width: 32, height: 16 });
    const bytes = Buffer.from(await (await fetch(attachment?.url ?? '')).arrayBuffer());
    expect(bytes.equals(discord.attachmentBytes(posted.id, 0))).toBe(true);
    await interaction.reply({ content: 'queued', flags: MessageFlags.Ephemeral });
    await waitUntil(() => discord.callbacks(interaction.id).length === 1);
    expect(discord.callbacks(interaction.id)[0]).toMatchObject({ type: 4, status: 204 });
  });
});
