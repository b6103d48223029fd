import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's chromium for playwright-core: CHROMIUM_PATH, else `chromium`, else `chromium-browser` on the PATH. */
export function chromiumPath(): string {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH=${configured} does not exist`);
    return configured;
  }
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const found = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (found) return found;
    } catch {
      // not on the PATH; try the next name
    }
  }
  throw new Error('no Chromium found: apt-get install chromium, or set CHROMIUM_PATH');
}
