import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type {
  ChatInputCommandInteraction,
  MessageContextMenuCommandInteraction,
  ModalSubmitInteraction,
  RESTPostAPIApplicationCommandsJSONBody,
} from 'discord.js';
import type { DiscordContext } from './context.js';

/** What each file in `commands/` exports (the discord.js guide's one-command-per-file shape). */
export interface DiscordCommand {
  definition: RESTPostAPIApplicationCommandsJSONBody;
  execute(
    interaction: ChatInputCommandInteraction | MessageContextMenuCommandInteraction,
    context: DiscordContext,
  ): Promise<void>;
  /** Modals the command opened come back here, matched by the custom id prefix. */
  modalPrefix?: string;
  submitModal?(interaction: ModalSubmitInteraction, context: DiscordContext): Promise<void>;
}

export const COMMANDS_DIR = fileURLToPath(new URL('../../../commands/', import.meta.url));

const isCommand = (value: unknown): value is DiscordCommand =>
  typeof value === 'object' &&
  value !== null &&
  'definition' in value &&
  'execute' in value &&
  typeof (value as DiscordCommand).execute === 'function';

/**
 * Loads every command module in the folder (only command files live there; the deploy script sits
 * beside it, so a bot start never loads it). A file that is not a command is a mistake worth stopping for.
 */
export async function loadCommands(dir = COMMANDS_DIR): Promise<Map<string, DiscordCommand>> {
  const commands = new Map<string, DiscordCommand>();
  const files = (await readdir(dir))
    .filter((file) => /\.(ts|js)$/.test(file) && !file.endsWith('.d.ts'))
    .sort();
  for (const file of files) {
    const module = (await import(pathToFileURL(`${dir}${file}`).href)) as Record<string, unknown>;
    const command = isCommand(module) ? module : isCommand(module.default) ? module.default : undefined;
    if (!command) {
      throw new Error(`${file} in ${dir} is not a command file (it exports no definition and execute)`);
    }
    if (commands.has(command.definition.name)) {
      throw new Error(`two command files define "${command.definition.name}": rename one of them`);
    }
    commands.set(command.definition.name, command);
  }
  return commands;
}
