import { ConfigurationError } from '../../core/errors.js';
import type { ComfyFileRef } from './outputs.js';

/**
 * Where a finished video is, as stored in the job (`BackendOutput.location`): the server and the
 * file on it. Only a configured server is ever downloaded from, whatever the stored text says.
 */

export interface OutputLocation extends ComfyFileRef {
  server: string;
  promptId?: string;
}

export const encodeLocation = (location: OutputLocation): string => JSON.stringify(location);

export function parseLocation(location: string): OutputLocation {
  let parsed: unknown;
  try {
    parsed = JSON.parse(location);
  } catch {
    throw new ConfigurationError('the stored output is not a ComfyUI output location');
  }
  const value = parsed as Record<string, unknown>;
  if (
    !value ||
    typeof value.server !== 'string' ||
    typeof value.filename !== 'string' ||
    typeof value.subfolder !== 'string' ||
    typeof value.type !== 'string'
  ) {
    throw new ConfigurationError('the stored output is not a ComfyUI output location');
  }
  return {
    server: value.server,
    filename: value.filename,
    subfolder: value.subfolder,
    type: value.type,
    ...(typeof value.promptId === 'string' ? { promptId: value.promptId } : {}),
  };
}
