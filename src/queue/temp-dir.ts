import { readdir, rm, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Removes a job's scratch directory. It holds plain files only, so they go all at once and then the
 * directory: three steps on the file system's thread pool, where `rm -r` walks it one file at a time
 * (an lstat and an unlink each, after an lstat and a read of the directory), which costs a busy
 * worker more than any other file operation of a job. Anything unexpected (a subdirectory, a file
 * already gone) falls back to `rm -r`.
 */
export async function removeScratchDir(dir: string): Promise<void> {
  try {
    const names = await readdir(dir);
    await Promise.all(names.map((name) => unlink(join(dir, name))));
    await rmdir(dir);
  } catch {
    await rm(dir, { recursive: true, force: true });
  }
}
