import type { PlatformContext, PlatformHandle } from './platform.js';

// The platforms import these types from ./platform.ts, never from here: this file imports them.
export type { PlatformContext, PlatformHandle } from './platform.js';

/** Starts every platform that has credentials; a platform left unconfigured is simply skipped. */
export async function startPlatforms(context: PlatformContext): Promise<PlatformHandle[]> {
  const handles: PlatformHandle[] = [];
  const { config } = context;
  if (config.DISCORD_TOKEN) {
    const { startDiscord } = await import('./discord/index.js');
    handles.push(await startDiscord(context));
  }
  if (config.SLACK_BOT_TOKEN) {
    const { startSlack } = await import('./slack/index.js');
    handles.push(await startSlack(context));
  }
  return handles;
}
