import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Whether this module is the script node was started with (robust to spaces and symlinks in the path). */
export function isEntryPoint(moduleUrl: string): boolean {
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(process.argv[1] ?? '');
  } catch {
    return false;
  }
}
