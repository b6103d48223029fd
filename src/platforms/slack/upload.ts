import type { Readable } from 'node:stream';
import type { webApi } from '@slack/bolt';
import { request } from 'undici';

export interface StreamedFile {
  stream: Readable;
  /** Exact size: Slack asks for it first, and the POST declares it. */
  bytes: number;
  filename: string;
  altText?: string;
}

/**
 * POSTs a file's bytes to an upload URL as they come from storage, with its length declared up
 * front: never the whole file in memory (issue 10 item 5). Throws unless the host took it all.
 */
export async function postFileStreamed(uploadUrl: string, file: Pick<StreamedFile, 'stream' | 'bytes'>) {
  const response = await request(uploadUrl, {
    method: 'POST',
    body: file.stream,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.bytes) },
    bodyTimeout: 120_000,
    headersTimeout: 120_000,
  });
  const answer = await response.body.text();
  if (response.statusCode !== 200) {
    throw new Error(`the file upload was refused (HTTP ${response.statusCode}: ${answer.slice(0, 200)})`);
  }
}

/**
 * The first two steps of Slack's external upload flow (platform notes S4), with the bytes streamed
 * (`filesUploadV2` reads the whole file first): files.getUploadURLExternal, then the POST. Returns
 * the file id for files.completeUploadExternal, which shares it (a message in the channel).
 */
export async function uploadStreamed(client: webApi.WebClient, file: StreamedFile): Promise<string> {
  const target = await client.files.getUploadURLExternal({
    filename: file.filename,
    length: file.bytes,
    ...(file.altText ? { alt_text: file.altText } : {}),
  });
  if (!target.upload_url || !target.file_id) throw new Error('Slack gave no upload URL for the video');
  await postFileStreamed(target.upload_url, file);
  return target.file_id;
}
