import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent } from 'undici';
import { UserFacingError } from '../core/errors.js';

/**
 * The one rule for user-supplied URLs (a LoRA file today): `https://` to a public host only. A host
 * written as an address, and every address its name resolves to, must be public: no private,
 * loopback, link-local (the cloud metadata service at 169.254.169.254), CGNAT, unique-local IPv6,
 * IPv4-mapped IPv6 of any of those, multicast or reserved ranges. The service checks at request
 * time; the worker checks again on download, where `publicAgent` pins the connection to the
 * addresses that passed (the check runs inside the connection's own DNS lookup), so a name that
 * resolves to a public address for the check and a private one for the connection (DNS
 * rebinding) cannot get through. `fetchBounded` applies it again after every redirect.
 *
 * `allowHosts` is for tests only (FETCH_ALLOW_HOSTS): the fakes listen on 127.0.0.1, so those exact
 * hosts skip the address rule (never the https rule). Production leaves it empty.
 */

export type LookupAll = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

export interface HostPolicy {
  /** Test-only: host names or addresses (`127.0.0.1`, `localhost`) exempt from the address rule. */
  allowHosts?: readonly string[];
  /** DNS resolution, default the system resolver (`dns.lookup`, every address); tests give a fake. */
  lookup?: LookupAll;
}

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT (also Alibaba's metadata at 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, the metadata service
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved and broadcast
] as const) {
  blocked.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64 (embeds an IPv4 address)
  ['64:ff9b:1::', 48], // local NAT64
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments (Teredo and friends)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 (embeds an IPv4 address)
  ['fc00::', 7], // unique local (also AWS's IPv6 metadata fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

/** Names that are never public whatever a resolver says. */
const PRIVATE_NAMES =
  /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$|^metadata(\.google\.internal)?$/i;

/** The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`, `::ffff:7f00:1`) or compatible IPv6 one. */
function embeddedIpv4(address: string): string | undefined {
  const match = /^::(?:ffff:(?:0:)?)?(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(
    address,
  );
  if (!match) return undefined;
  if (match[1]) return match[1];
  const high = Number.parseInt(match[2]!, 16);
  const low = Number.parseInt(match[3]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Whether an IP address (v4 or v6, brackets allowed) is a public unicast address. */
export function isPublicAddress(raw: string): boolean {
  const address = raw.replace(/^\[|\]$/g, '').split('%')[0]!;
  const family = isIP(address);
  if (family === 4) return !blocked.check(address, 'ipv4');
  if (family !== 6) return false;
  const v4 = embeddedIpv4(address);
  if (v4) return false; // mapped or compatible IPv4 in IPv6: never needed for a download, often a bypass
  return !blocked.check(address, 'ipv6');
}

const systemLookup: LookupAll = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses: LookupAddress[]) =>
      error ? reject(error) : resolve(addresses),
    );
  });

function isExempt(hostname: string, policy: HostPolicy): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return (policy.allowHosts ?? []).some((entry) => entry.trim().toLowerCase() === host);
}

const refusedHost = (label: string, host: string) =>
  new UserFacingError(
    `${label} must be on a public host; ${host} is a private, local or metadata address and was refused`,
  );

/**
 * The addresses `hostname` may be reached at, all public (else refused). A literal address is
 * checked as it is; a name is resolved and every answer must be public.
 */
export async function publicAddresses(
  hostname: string,
  policy: HostPolicy = {},
  label = 'the link',
): Promise<{ address: string; family: number }[]> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const exempt = isExempt(host, policy);
  const literal = isIP(host);
  if (literal) {
    if (!exempt && !isPublicAddress(host)) throw refusedHost(label, hostname);
    return [{ address: host, family: literal }];
  }
  if (!exempt && PRIVATE_NAMES.test(host)) throw refusedHost(label, hostname);
  let addresses: readonly { address: string; family: number }[];
  try {
    addresses = await (policy.lookup ?? systemLookup)(host);
  } catch (error) {
    throw new UserFacingError(`${label} could not be checked: the host ${hostname} could not be resolved`, {
      cause: error,
    });
  }
  if (addresses.length === 0) {
    throw new UserFacingError(`${label} could not be checked: the host ${hostname} has no address`);
  }
  if (!exempt && addresses.some((entry) => !isPublicAddress(entry.address)))
    throw refusedHost(label, hostname);
  return addresses.map(({ address, family }) => ({ address, family }));
}

/**
 * Checks a user-supplied URL at request time: `https://`, no credentials, a public host (after DNS).
 * Returns the parsed URL.
 */
export async function checkPublicUrl(
  raw: string | URL,
  policy: HostPolicy = {},
  label = 'the link',
): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UserFacingError(`${label} is not a valid URL`);
  }
  if (url.protocol !== 'https:') {
    throw new UserFacingError(`${label} must be an https:// URL (got ${url.protocol.replace(/:$/, '')})`);
  }
  if (url.username || url.password)
    throw new UserFacingError(`${label} must not carry a user name or password`);
  await publicAddresses(url.hostname, policy, label);
  return url;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A connection pool whose every connection resolves its host through `publicAddresses`: the
 * address connected to is one that passed the check, in the same lookup (no second resolution a
 * rebinding DNS server could answer differently). `tls` is for tests (a fake's own CA).
 */
export function publicAgent(
  policy: HostPolicy,
  options: { label?: string; connectTimeoutMs?: number; tls?: { ca?: string | Buffer } } = {},
): Agent {
  const label = options.label ?? 'the link';
  const lookup = (hostname: string, lookupOptions: { all?: boolean }, callback: LookupCallback) => {
    publicAddresses(hostname, policy, label).then(
      (addresses) => {
        if (lookupOptions?.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: Error) => callback(Object.assign(error, { code: 'EKINEMAPRIVATE' }), ''),
    );
  };
  return new Agent({
    connect: {
      timeout: options.connectTimeoutMs ?? 10_000,
      lookup,
      ...(options.tls?.ca ? { ca: options.tls.ca } : {}),
    } as Agent.Options['connect'],
  });
}
