import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientError, UserFacingError } from '../../src/core/errors.js';
import { fetchBounded, isHostAllowed } from '../../src/media/fetch.js';
import { makePng } from '../support/media.js';

let png: Buffer;
let main: Server;
let other: Server;
let mainHost: string;
let otherHost: string;
/** Headers the second server saw on its last request. */
let otherSaw: IncomingHttpHeaders | undefined;

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

beforeAll(async () => {
  png = await makePng(100, 100);
  main = createServer((req, res) => {
    const path = req.url ?? '/';
    switch (path) {
      case '/image.png':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
        res.end(png);
        return;
      case '/needs-auth':
        if (req.headers.authorization !== 'Bearer xoxb-test') {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<!DOCTYPE html><html><body>sign in</body></html>');
          return;
        }
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(png);
        return;
      case '/declared-huge':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': 50 * 1024 * 1024 });
        res.write(png); // then never finishes; the client must not wait for it
        return;
      case '/chunked-huge': {
        res.writeHead(200, { 'content-type': 'image/png' }); // no Content-Length: chunked
        const chunk = Buffer.alloc(64 * 1024, 7);
        let sent = 0;
        const pump = () => {
          while (sent < 20 * 1024 * 1024 && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      case '/slow-headers':
        return; // never answers
      case '/slow-body':
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(png.subarray(0, 10)); // then stalls
        return;
      case '/redirect-same':
        res.writeHead(302, { location: '/image.png' });
        res.end();
        return;
      case '/redirect-away':
        res.writeHead(302, { location: `http://evil.example:${mainHost.split(':')[1]}/image.png` });
        res.end();
        return;
      case '/redirect-other-port':
        res.writeHead(307, { location: `http://${otherHost}/image.png` });
        res.end();
        return;
      case '/redirect-file':
        res.writeHead(302, { location: 'file:///etc/passwd' });
        res.end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' });
        res.end();
        return;
      case '/gone':
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
        return;
      case '/broken':
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '7' });
        res.end('try later');
        return;
      default:
        res.writeHead(400);
        res.end();
    }
  });
  other = createServer((req, res) => {
    otherSaw = req.headers;
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(png);
  });
  mainHost = await listen(main);
  otherHost = await listen(other);
});

afterAll(async () => {
  for (const server of [main, other]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const base = () => ({ allowedHosts: [mainHost], maxBytes: 1024 * 1024, timeoutMs: 5_000 });

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

describe('isHostAllowed', () => {
  const allowed = (url: string, hosts: string[]) => isHostAllowed(new URL(url), hosts);

  it('matches exact hosts, host:port and .suffix subdomains', () => {
    expect(allowed('https://cdn.discordapp.com/a', ['cdn.discordapp.com'])).toBe(true);
    expect(allowed('https://CDN.discordapp.com:8443/a', ['cdn.discordapp.com'])).toBe(true);
    expect(allowed('https://media.discordapp.net/a', ['cdn.discordapp.com'])).toBe(false);
    expect(allowed('https://files.slack.com/a', ['.slack.com'])).toBe(true);
    expect(allowed('https://a.b.slack.com/a', ['.slack.com'])).toBe(true);
    expect(allowed('https://slack.com/a', ['.slack.com'])).toBe(false);
    expect(allowed('https://evilslack.com/a', ['.slack.com'])).toBe(false);
    expect(allowed('https://files.slack.com.evil.example/a', ['.slack.com'])).toBe(false);
    expect(allowed('http://127.0.0.1:8080/a', ['127.0.0.1:8080'])).toBe(true);
    expect(allowed('http://127.0.0.1:8081/a', ['127.0.0.1:8080'])).toBe(false);
  });
});

describe('fetchBounded', () => {
  it('downloads from an allowed host', async () => {
    const result = await fetchBounded(`http://${mainHost}/image.png`, base());
    expect(result.bytes.equals(png)).toBe(true);
    expect(result.contentType).toBe('image/png');
  });

  it('sends the given headers to the allowed host', async () => {
    const result = await fetchBounded(`http://${mainHost}/needs-auth`, {
      ...base(),
      headers: { authorization: 'Bearer xoxb-test' },
    });
    expect(result.bytes.equals(png)).toBe(true);
  });

  it('refuses a host that is not allowed, naming it', async () => {
    const error = await failure(
      fetchBounded(`http://${mainHost}/image.png`, { ...base(), allowedHosts: ['cdn.discordapp.com'] }),
    );
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toBe(`the link points to ${mainHost}, which is not an allowed host`);
  });

  it('refuses links that are not http(s)', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/x.png', 'data:image/png;base64,AAAA']) {
      const error = await failure(fetchBounded(url, base()));
      expect(error).toBeInstanceOf(UserFacingError);
      expect(error.message).toMatch(/^only http and https links can be downloaded/);
    }
    const invalid = await failure(fetchBounded('not a url', base()));
    expect(invalid.message).toBe('that is not a valid link');
  });

  it('refuses a body whose Content-Length is over the limit', async () => {
    const error = await failure(
      fetchBounded(`http://${mainHost}/declared-huge`, { ...base(), maxBytes: 25 * 1024 * 1024 }),
    );
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toBe('the image is larger than 25 MiB');
  });

  it('aborts a chunked body once it passes the limit', async () => {
    const error = await failure(
      fetchBounded(`http://${mainHost}/chunked-huge`, { ...base(), maxBytes: 256 * 1024 }),
    );
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toBe('the image is larger than 256 KiB');
  });

  it('gives up on a server that does not answer in time', async () => {
    const error = await failure(
      fetchBounded(`http://${mainHost}/slow-headers`, { ...base(), timeoutMs: 300 }),
    );
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toBe('the image could not be downloaded in time');
  });

  it('gives up on a body that stalls', async () => {
    const error = await failure(fetchBounded(`http://${mainHost}/slow-body`, { ...base(), timeoutMs: 300 }));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toBe('the image could not be downloaded in time');
  });

  it('uses the label in messages', async () => {
    const error = await failure(
      fetchBounded(`http://${mainHost}/declared-huge`, {
        ...base(),
        maxBytes: 10 * 1024 * 1024,
        label: 'the video',
      }),
    );
    expect(error.message).toBe('the video is larger than 10 MiB');
  });

  it('follows a redirect on an allowed host', async () => {
    const result = await fetchBounded(`http://${mainHost}/redirect-same`, base());
    expect(result.bytes.equals(png)).toBe(true);
  });

  it('refuses a redirect to a host that is not allowed', async () => {
    const error = await failure(fetchBounded(`http://${mainHost}/redirect-away`, base()));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toMatch(/^the link points to evil\.example:\d+, which is not an allowed host$/);

    const port = await failure(fetchBounded(`http://${mainHost}/redirect-other-port`, base()));
    expect(port.message).toBe(`the link points to ${otherHost}, which is not an allowed host`);
  });

  it('refuses a redirect to a non-http scheme', async () => {
    const error = await failure(fetchBounded(`http://${mainHost}/redirect-file`, base()));
    expect(error.message).toMatch(/^only http and https links can be downloaded/);
  });

  it('does not send the headers to another origin after a redirect', async () => {
    otherSaw = undefined;
    const result = await fetchBounded(`http://${mainHost}/redirect-other-port`, {
      ...base(),
      allowedHosts: ['127.0.0.1'],
      headers: { authorization: 'Bearer xoxb-test', 'x-custom': 'yes' },
    });
    expect(result.bytes.equals(png)).toBe(true);
    const saw = otherSaw as IncomingHttpHeaders | undefined;
    expect(saw).toBeDefined();
    expect(saw?.authorization).toBeUndefined();
    expect(saw?.['x-custom']).toBeUndefined();
  });

  it('stops after too many redirects', async () => {
    const error = await failure(fetchBounded(`http://${mainHost}/loop`, { ...base(), maxRedirects: 3 }));
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toBe('the image could not be downloaded (too many redirects)');
  });

  it('reports 4xx as the user’s problem and 5xx as transient', async () => {
    const gone = await failure(fetchBounded(`http://${mainHost}/gone`, base()));
    expect(gone).toBeInstanceOf(UserFacingError);
    expect(gone.message).toBe(
      'the image could not be downloaded (the server answered 404; the link may have expired)',
    );

    const broken = await failure(fetchBounded(`http://${mainHost}/broken`, base()));
    expect(broken).toBeInstanceOf(TransientError);
    expect((broken as TransientError).retryAfterMs).toBe(7000);
  });

  it('reports a refused connection as transient', async () => {
    const closed = createServer();
    const host = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(fetchBounded(`http://${host}/x`, { ...base(), allowedHosts: [host] }));
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toBe('the image could not be downloaded (the connection was refused)');
  });
});
