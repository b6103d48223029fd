/**
 * discord.js helpers for tests against the fake: a client wired to the fake (destroyed by
 * `discord.close()`), waiting for events, polling for conditions.
 */
import { Client, type ClientEvents, type ClientOptions, GatewayIntentBits, Partials } from 'discord.js';
import type { FakeDiscord } from './index.js';

export const DEFAULT_TEST_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.GuildMessageReactions,
];
export const DEFAULT_TEST_PARTIALS = [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User];

/** A discord.js Client pointed at the fake. `discord.close()` destroys it first. */
export function createFakeClient(discord: FakeDiscord, options: Partial<ClientOptions> = {}): Client {
  const client = new Client({
    intents: DEFAULT_TEST_INTENTS,
    partials: DEFAULT_TEST_PARTIALS,
    ...options,
    rest: { ...options.rest, api: discord.apiUrl },
  });
  discord.addCleanup(() => client.destroy());
  return client;
}

/** Logs in and resolves once the client emitted clientReady (all guilds received). */
export async function loginFakeClient(discord: FakeDiscord, client: Client): Promise<Client<true>> {
  const ready = nextEvent(client, 'clientReady');
  await client.login(discord.token);
  await ready;
  return client as Client<true>;
}

/** Creates, logs in and waits for ready. */
export async function connectFakeClient(
  discord: FakeDiscord,
  options: Partial<ClientOptions> = {},
): Promise<Client<true>> {
  return loginFakeClient(discord, createFakeClient(discord, options));
}

/** Resolves with the arguments of the next matching event. */
export function nextEvent<K extends keyof ClientEvents>(
  client: Client,
  event: K,
  filter: (...args: ClientEvents[K]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<ClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(event, listener);
      reject(new Error(`timed out waiting for ${String(event)}`));
    }, timeoutMs);
    const listener = (...args: ClientEvents[K]) => {
      if (!filter(...args)) return;
      clearTimeout(timer);
      client.off(event, listener);
      resolve(args);
    };
    client.on(event, listener);
  });
}

/** Polls until the predicate is truthy. */
export async function waitUntil<T>(
  predicate: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
