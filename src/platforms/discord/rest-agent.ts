import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';

/**
 * A connection pool from the undici that @discordjs/rest itself bundles. The REST client otherwise
 * uses undici's process-wide dispatcher, and when our own (newer) undici loaded first, that one
 * cannot send discord.js's multipart uploads ("action is not a function").
 */
export function discordRestAgent(): Dispatcher {
  const fromDiscord = createRequire(createRequire(import.meta.url).resolve('discord.js'));
  const fromRest = createRequire(fromDiscord.resolve('@discordjs/rest'));
  const { Agent } = fromRest('undici') as { Agent: new () => Dispatcher };
  return new Agent();
}
