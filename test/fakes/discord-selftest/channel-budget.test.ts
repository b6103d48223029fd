import {
  ActionRowBuilder,
  ButtonBuilder,
  type ButtonInteraction,
  ButtonStyle,
  type ChatInputCommandInteraction,
  type Client,
  type GuildTextBasedChannel,
  type Interaction,
  type RateLimitData,
  RateLimitError,
  RESTEvents,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeDiscord, type FakeDiscordOptions, startFakeDiscord } from '../discord/index.js';
import { connectFakeClient, nextEvent } from '../discord/testkit.js';

/** Discord's unpublished per-channel budget of message creates and edits (channel-budget.ts). */
const ALICE = '200000000000000001';
const GUILD = '100000000000000001';
const CHANNEL = '400000000000000001';
const OTHER = '400000000000000002';

let discord: FakeDiscord | undefined;
afterEach(async () => {
  await discord?.close();
  discord = undefined;
});

async function setup(options: FakeDiscordOptions = {}, clientOptions: { rejectOnRateLimit?: boolean } = {}) {
  discord = await startFakeDiscord({
    users: [{ id: ALICE, username: 'alice' }],
    guilds: [
      {
        id: GUILD,
        name: 'Kinema Lab',
        channels: [
          { id: CHANNEL, name: 'general' },
          { id: OTHER, name: 'renders' },
        ],
        members: [{ userId: ALICE }],
      },
    ],
    ...options,
  });
  // Rejecting instead of waiting shows each 429 as discord.js understood it, without sleeping it out.
  const client = await connectFakeClient(
    discord,
    clientOptions.rejectOnRateLimit ? { rest: { rejectOnRateLimit: () => true } } : {},
  );
  const limited: RateLimitData[] = [];
  client.rest.on(RESTEvents.RateLimited, (info) => limited.push(info));
  return { discord, client, limited };
}

async function textChannel(client: Client, id: string): Promise<GuildTextBasedChannel> {
  const channel = await client.channels.fetch(id);
  if (!channel?.isTextBased() || channel.isDMBased()) throw new Error('not a guild text channel');
  return channel;
}

function nextInteraction<T extends Interaction>(client: Client): Promise<T> {
  return nextEvent(client, 'interactionCreate').then(([i]) => i as T);
}

const statuses = (fake: FakeDiscord, method: string) =>
  fake.requests.filter((r) => r.method === method && r.route.includes('/messages')).map((r) => r.status);

describe('the per-channel budget of the fake Discord', () => {
  it('is on by default: the sixth create or edit in a channel within 5 s gets a 429 nothing warned of', async () => {
    const { discord, client, limited } = await setup({}, { rejectOnRateLimit: true });
    const channel = await textChannel(client, CHANNEL);
    const first = await channel.send('status 1');
    await channel.send('status 2');
    await channel.send('status 3');
    await first.edit('status 1 (edited)');
    await first.edit('status 1 (edited again)');
    // discord.js paces itself by the headers; they describe the route bucket only, so it did not wait.
    expect(limited).toEqual([]);

    const refused = await channel.send('status 4').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(refused).toMatchObject({ scope: 'shared', global: false, method: 'POST' });
    expect((refused as RateLimitError).retryAfter).toBeGreaterThan(0);
    expect((refused as RateLimitError).retryAfter).toBeLessThanOrEqual(5_000 + 50); // discord.js adds its 50 ms offset
    const edit = await first.edit('status 1 (third edit)').catch((error: unknown) => error);
    expect(edit).toMatchObject({ scope: 'shared', method: 'PATCH' });
    expect(discord.messages(CHANNEL).map((m) => m.content)).toEqual([
      'status 1 (edited again)',
      'status 2',
      'status 3',
    ]);

    // Another channel has a budget of its own.
    const other = await textChannel(client, OTHER);
    await other.send('elsewhere');
    expect(discord.stats).toMatchObject({ rateLimited: 2 });
    expect(discord.stats.channelBudgetRefusals(CHANNEL)).toBe(2);
    expect(discord.stats.channelBudgetRefusals(OTHER)).toBe(0);
    expect(discord.stats.channelBudgetRefusals()).toBe(2);
  });

  it("answers like Discord's own 429: the D8 body, Retry-After and X-RateLimit-Scope: shared", async () => {
    const { discord } = await setup({ channelBudget: { count: 1, windowMs: 60_000 } });
    const post = () =>
      fetch(`${discord.apiUrl}/v10/channels/${CHANNEL}/messages`, {
        method: 'POST',
        headers: { Authorization: `Bot ${discord.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ content: 'hi' }),
      });
    const accepted = await post();
    expect(accepted.status).toBe(200);
    expect(accepted.headers.get('x-ratelimit-limit')).toBe('50'); // the route's bucket, not the channel's budget
    expect(accepted.headers.get('x-ratelimit-remaining')).toBe('49');

    const res = await post();
    expect(res.status).toBe(429);
    const body = (await res.json()) as { message: string; retry_after: number; global: boolean };
    expect(body).toEqual({
      message: 'You are being rate limited.',
      retry_after: expect.any(Number),
      global: false,
    });
    expect(body.retry_after).toBeGreaterThan(0);
    expect(body.retry_after).toBeLessThanOrEqual(60);
    expect(res.headers.get('retry-after')).toBe(String(Math.ceil(body.retry_after)));
    expect(res.headers.get('x-ratelimit-scope')).toBe('shared');
    expect(res.headers.get('x-ratelimit-global')).toBeNull();
    expect(res.headers.get('x-ratelimit-remaining')).toBe('48'); // still unpublished: the route has room
    expect(discord.messages(CHANNEL)).toHaveLength(1);
  });

  it('counts creates and edits through the interaction routes, but not the acknowledgements', async () => {
    const { discord, client } = await setup(
      { channelBudget: { count: 3, windowMs: 60_000 } },
      { rejectOnRateLimit: true },
    );
    const got = nextInteraction<ChatInputCommandInteraction>(client);
    discord.invokeSlashCommand({ userId: ALICE, name: 'animate', channelId: CHANNEL });
    const command = await got;
    await command.deferReply(); // type 5: not counted
    await command.editReply('Queued'); // PATCH /webhooks/…/messages/@original: 1
    await command.followUp('a follow-up'); // POST /webhooks/…: 2
    const status = await (await textChannel(client, CHANNEL)).send({
      content: 'status',
      components: [
        new ActionRowBuilder<ButtonBuilder>().addComponents(
          new ButtonBuilder().setCustomId('cancel').setLabel('Cancel').setStyle(ButtonStyle.Danger),
        ),
      ],
    }); // 3

    await expect(command.editReply('Queued #2')).rejects.toMatchObject({ scope: 'shared' });
    const reply = nextInteraction<ChatInputCommandInteraction>(client);
    discord.invokeSlashCommand({ userId: ALICE, name: 'animate', channelId: CHANNEL });
    const second = await reply;
    await expect(second.reply('hello')).rejects.toMatchObject({ scope: 'shared' }); // type 4: a new message
    const click = nextInteraction<ButtonInteraction>(client);
    discord.clickButton({ messageId: status.id, customId: 'cancel', userId: ALICE });
    const button = await click;
    await expect(button.update({ content: 'cancelled' })).rejects.toMatchObject({ scope: 'shared' }); // type 7
    expect(discord.interaction(button.id)?.acknowledged).toBe(false);
    await button.deferUpdate(); // type 6 is still accepted
    const third = nextInteraction<ChatInputCommandInteraction>(client);
    discord.invokeSlashCommand({ userId: ALICE, name: 'animate', channelId: CHANNEL });
    await (await third).deferReply(); // and so is type 5

    expect(discord.stats.channelBudgetRefusals(CHANNEL)).toBe(3);
    expect(discord.message(status.id)?.content).toBe('status');
  });

  it('takes nothing for a request that fails, and nothing for one it refuses', async () => {
    const { discord, client } = await setup(
      { channelBudget: { count: 2, windowMs: 60_000 } },
      { rejectOnRateLimit: true },
    );
    const empty = () =>
      fetch(`${discord.apiUrl}/v10/channels/${CHANNEL}/messages`, {
        method: 'POST',
        headers: { Authorization: `Bot ${discord.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ content: '' }),
      });
    for (let i = 0; i < 3; i++) expect((await empty()).status).toBe(400);
    const channel = await textChannel(client, CHANNEL);
    await channel.send('one');
    await channel.send('two');
    for (let i = 0; i < 3; i++) {
      await expect(channel.send('refused')).rejects.toBeInstanceOf(RateLimitError);
    }
    expect(discord.stats.channelBudgetRefusals(CHANNEL)).toBe(3);
    expect(discord.messages(CHANNEL).map((m) => m.content)).toEqual(['one', 'two']);
  });

  it('lets discord.js wait it out: every message arrives, in order, after the 429s it counted', async () => {
    const { discord, client, limited } = await setup({ channelBudget: { count: 2, windowMs: 400 } });
    const channel = await textChannel(client, CHANNEL);
    const sent = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((text) => channel.send(text)));
    expect(sent.map((m) => m.content)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(discord.messages(CHANNEL).map((m) => m.content)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const refusals = statuses(discord, 'POST').filter((status) => status === 429).length;
    expect(refusals).toBeGreaterThan(0);
    expect(discord.stats.rateLimited).toBe(refusals);
    expect(discord.stats.channelBudgetRefusals(CHANNEL)).toBe(refusals);
    // discord.js never held a request back by itself: the headers gave it nothing to pace by.
    expect(limited).toEqual([]);
  });

  it('can be switched off', async () => {
    const { discord, client } = await setup({ channelBudget: false }, { rejectOnRateLimit: true });
    const channel = await textChannel(client, CHANNEL);
    const first = await channel.send('0');
    for (let i = 1; i < 12; i++) await first.edit(String(i));
    await Promise.all(Array.from({ length: 8 }, (_, i) => channel.send(`more ${i}`)));
    expect(discord.message(first.id)?.content).toBe('11');
    expect(discord.stats.rateLimited).toBe(0);
    expect(discord.stats.channelBudgetRefusals()).toBe(0);
  });
});
