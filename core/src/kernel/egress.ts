import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

// Loopback, private, link-local (cloud metadata), CGNAT, unspecified and unique-local ranges.
const privateRanges = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const) {
  privateRanges.addSubnet(network, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return privateRanges.check(mapped, 'ipv4');
  return privateRanges.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** `[::1]` → `::1`: URL keeps the brackets of an IPv6 literal host. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** What can be told without DNS: `localhost` and literal private addresses. */
export function isObviouslyPrivate(url: URL): boolean {
  const host = bareHost(url).toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || isPrivateAddress(host);
}

/**
 * Refuses a host that resolves to a private address. Best effort: the request resolves the
 * name again (DNS rebinding), so a NetworkPolicy that restricts egress stays the real control.
 */
export async function assertPublicHost(url: URL): Promise<void> {
  if (isObviouslyPrivate(url)) throw new Error(`${bareHost(url)} is a private address`);
  const addresses = await lookup(bareHost(url), { all: true });
  const blocked = addresses.find((a) => isPrivateAddress(a.address));
  if (blocked) throw new Error(`${bareHost(url)} resolves to the private address ${blocked.address}`);
}
