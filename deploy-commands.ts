/**
 * `npm run commands:deploy`: registers every command in `commands/` with one bulk overwrite.
 * Guild-scoped (instant) when DISCORD_GUILD_ID is set, global otherwise. Run it after changing
 * commands, not at every start.
 */
import { REST, Routes } from 'discord.js';
import { ConfigError, loadConfig } from './src/config.js';
import { isEntryPoint } from './src/entry-point.js';
import { loadCommands } from './src/platforms/discord/command-loader.js';
import { discordRestAgent } from './src/platforms/discord/rest-agent.js';

export async function deployCommands(env = loadConfig()): Promise<{ count: number; scope: string }> {
  if (!env.DISCORD_TOKEN || !env.DISCORD_APPLICATION_ID) {
    throw new ConfigError(['DISCORD_TOKEN and DISCORD_APPLICATION_ID are required to register commands']);
  }
  const commands = await loadCommands();
  const body = [...commands.values()].map((command) => command.definition);
  const rest = new REST({
    ...(env.DISCORD_API_URL ? { api: env.DISCORD_API_URL } : {}),
    agent: discordRestAgent() as never,
  }).setToken(env.DISCORD_TOKEN);
  const route = env.DISCORD_GUILD_ID
    ? Routes.applicationGuildCommands(env.DISCORD_APPLICATION_ID, env.DISCORD_GUILD_ID)
    : Routes.applicationCommands(env.DISCORD_APPLICATION_ID);
  await rest.put(route, { body });
  return { count: body.length, scope: env.DISCORD_GUILD_ID ? `guild ${env.DISCORD_GUILD_ID}` : 'global' };
}

if (isEntryPoint(import.meta.url)) {
  deployCommands().then(
    ({ count, scope }) => {
      process.stdout.write(
        `Registered ${count} commands (${scope}).${scope === 'global' ? ' Global commands can take a while to appear.' : ''}\n`,
      );
    },
    (error: Error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    },
  );
}
