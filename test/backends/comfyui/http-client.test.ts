import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComfyHttpError, OutputTooLargeError } from '../../../src/backends/comfyui/errors.js';
import { ComfyClient } from '../../../src/backends/comfyui/http-client.js';
import { readAll } from '../../support/comfyui-harness.js';

/** GET /view against a tiny server: the output size limit holds with or without a declared length. */

const BODY = Buffer.alloc(4 * 1024, 7);
let server: Server;
let client: ComfyClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').searchParams.get('filename');
    if (name === 'declared.mp4') {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': BODY.length });
      res.end(BODY);
    } else if (name === 'chunked.mp4') {
      // No Content-Length: only counting the bytes can stop it.
      res.writeHead(200, { 'content-type': 'video/mp4; codecs=avc1' });
      for (let offset = 0; offset < BODY.length; offset += 512)
        res.write(BODY.subarray(offset, offset + 512));
      res.end();
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new ComfyClient({
    config: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
    timeoutMs: 5_000,
  });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const view = (filename: string, maxBytes: number) =>
  client.view({ filename, subfolder: 'kinema', type: 'output' }, { timeoutMs: 10_000, maxBytes });

describe('ComfyClient.view', () => {
  it('streams a file within the limit, with its length and media type', async () => {
    const opened = await view('declared.mp4', BODY.length);
    expect(opened).toMatchObject({ bytes: BODY.length, contentType: 'video/mp4' });
    expect((await readAll(opened.stream)).equals(BODY)).toBe(true);
    const chunked = await view('chunked.mp4', BODY.length);
    expect(chunked.contentType).toBe('video/mp4');
    expect((await readAll(chunked.stream)).equals(BODY)).toBe(true);
  });

  it('refuses a declared length over the limit before reading the body', async () => {
    const error = await view('declared.mp4', 1024).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputTooLargeError);
    expect((error as Error).message).toBe('the finished video is larger than 1 KiB');
  });

  it('fails the stream once an undeclared body grows past the limit', async () => {
    const opened = await view('chunked.mp4', 1024);
    const error = await readAll(opened.stream).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputTooLargeError);
    expect((error as Error).message).toBe('the finished video is larger than 1 KiB');
  });

  it('reports a missing file as the HTTP status', async () => {
    const error = await view('gone.mp4', 1024).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ComfyHttpError);
    expect((error as ComfyHttpError).status).toBe(404);
  });
});
