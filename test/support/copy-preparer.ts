import { copyFile, stat } from 'node:fs/promises';

/** A video "preparer" that only copies: for queue tests whose backend returns bytes that are no mp4. */
export async function copyPreparer(input: string, output: string) {
  await copyFile(input, output);
  return { bytes: (await stat(output)).size };
}
