import type { Config } from '../config.js';
import type { ModelId } from '../core/request.js';
import type { Logger } from '../log.js';
import type { Pipeline } from '../pipeline.js';

export interface PlatformContext {
  config: Config;
  pipeline: Pipeline;
  log: Logger;
  defaultModel: ModelId;
}

export interface PlatformHandle {
  name: string;
  stop(): Promise<void>;
}

/** Starts every platform that has credentials; a platform left unconfigured is simply skipped. */
export async function startPlatforms(context: PlatformContext): Promise<PlatformHandle[]> {
  const handles: PlatformHandle[] = [];
  const { config } = context;
  if (config.DISCORD_TOKEN) {
    const { startDiscord } = await import('./discord/index.js');
    handles.push(await startDiscord(context));
  }
  return handles;
}
