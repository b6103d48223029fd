import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/core/errors.js';
import { fetchBounded } from '../../src/media/fetch.js';
import {
  checkPublicUrl,
  type HostPolicy,
  isPublicAddress,
  publicAgent,
} from '../../src/media/public-host.js';
import { type HttpsFiles, startHttpsFiles } from '../support/https-files.js';

/** A resolver answering from a table, like a DNS server the test controls. */
const dns =
  (table: Record<string, string[]>): HostPolicy['lookup'] =>
  async (host) =>
    (table[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('isPublicAddress', () => {
  it.each([
    '169.254.169.254',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '127.0.0.1',
    '100.64.0.1',
    '100.100.100.200',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fd00:ec2::254',
    'fc00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '[::ffff:10.0.0.1]',
  ])('refuses %s', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111'])('accepts %s', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });
});

describe('checkPublicUrl (request time)', () => {
  const policy: HostPolicy = {
    lookup: dns({
      'loopback.example': ['127.0.0.1'],
      'inside.example': ['10.0.0.7'],
      'cdn.example': ['93.184.216.34'],
    }),
  };

  it('refuses the metadata address, hosts resolving to private addresses, and http', async () => {
    for (const url of [
      'https://169.254.169.254/x.safetensors',
      'https://[::ffff:169.254.169.254]/x.safetensors',
      'https://loopback.example/x.safetensors',
      'https://inside.example/x.safetensors',
      'https://localhost/x.safetensors',
      'https://metadata.google.internal/x.safetensors',
    ]) {
      await expect(checkPublicUrl(url, policy, 'the LoRA link'), url).rejects.toThrow(/public host/);
    }
    await expect(checkPublicUrl('http://cdn.example/x.safetensors', policy)).rejects.toThrow(/https/);
    await expect(checkPublicUrl('https://cdn.example/x.safetensors', policy)).resolves.toBeInstanceOf(URL);
  });

  it('exempts only the hosts of the test allowlist', async () => {
    const allow = { ...policy, allowHosts: ['127.0.0.1'] };
    await expect(checkPublicUrl('https://127.0.0.1:8443/x.safetensors', allow)).resolves.toBeInstanceOf(URL);
    await expect(checkPublicUrl('https://inside.example/x.safetensors', allow)).rejects.toThrow(
      /public host/,
    );
  });
});

describe('a public-only download', () => {
  let files: HttpsFiles;
  const body = Buffer.alloc(4096, 3);

  beforeAll(async () => {
    files = await startHttpsFiles({
      '/x.safetensors': (_req, res) => {
        res.writeHead(200, { 'content-length': body.length }).end(body);
      },
      '/to-private': (_req, res) => {
        res.writeHead(302, { location: 'https://inside.example/x.safetensors' }).end();
      },
      '/to-metadata': (_req, res) => {
        res.writeHead(302, { location: 'https://169.254.169.254/latest/meta-data/' }).end();
      },
      '/to-http': (_req, res) => {
        res.writeHead(302, { location: 'http://cdn.example/x.safetensors' }).end();
      },
    });
  });
  afterAll(() => files.close());

  const download = (url: string, policy: HostPolicy) =>
    fetchBounded(url, {
      allowedHosts: [],
      publicOnly: policy,
      dispatcher: publicAgent(policy, { tls: { ca: files.ca } }),
      maxBytes: 1024 * 1024,
      timeoutMs: 5_000,
      label: 'the LoRA file',
    });

  const policy: HostPolicy = {
    allowHosts: ['127.0.0.1'],
    lookup: dns({ 'inside.example': ['10.0.0.7'], 'cdn.example': ['93.184.216.34'] }),
  };

  it('downloads from an allowed host', async () => {
    const { bytes } = await download(`${files.url}/x.safetensors`, policy);
    expect(bytes.equals(body)).toBe(true);
  });

  it('refuses a redirect to a private or metadata address, and to http, without following it', async () => {
    await expect(download(`${files.url}/to-private`, policy)).rejects.toThrow(
      /inside\.example.*public host|public host/,
    );
    await expect(download(`${files.url}/to-metadata`, policy)).rejects.toThrow(/169\.254\.169\.254/);
    await expect(download(`${files.url}/to-http`, policy)).rejects.toThrow(/https/);
  });

  it('connects only to the address that passed the check (a rebinding answer is refused)', async () => {
    const port = new URL(files.url).port;
    let answers = 0;
    const rebinding: HostPolicy = {
      // Public for the check, loopback for the connection, as a rebinding DNS server would answer.
      lookup: async () => [{ address: answers++ === 0 ? '93.184.216.34' : '127.0.0.1', family: 4 }],
    };
    const before = files.hits('/x.safetensors');
    const error = await download(`https://rebind.example:${port}/x.safetensors`, rebinding).catch((e) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect(String(error.message)).toMatch(/public host/);
    expect(files.hits('/x.safetensors')).toBe(before);
  });
});
