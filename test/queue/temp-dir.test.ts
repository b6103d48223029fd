import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeScratchDir } from '../../src/queue/temp-dir.js';

/** A worker leaves no scratch files behind, whatever a job put in its directory. */
describe('removeScratchDir', () => {
  it('removes a directory of files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kinema-test-'));
    for (const name of ['raw.mp4', 'ready.mp4', 'poster.jpg']) await writeFile(join(dir, name), 'x');
    await removeScratchDir(dir);
    expect(existsSync(dir)).toBe(false);
  });

  it('removes one with a subdirectory too, and does not mind one already gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kinema-test-'));
    await mkdir(join(dir, 'frames'));
    await writeFile(join(dir, 'frames', '1.png'), 'x');
    await writeFile(join(dir, 'raw.mp4'), 'x');
    await removeScratchDir(dir);
    expect(existsSync(dir)).toBe(false);
    await expect(removeScratchDir(dir)).resolves.toBeUndefined();
  });
});
