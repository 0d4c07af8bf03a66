import ipaddr from 'ipaddr.js';

/** A single host sg-warden may grant: its address and the one-host CIDR (/32 or /128). */
export interface HostAddress {
  kind: 'ipv4' | 'ipv6';
  address: string;
  cidr: string;
}

export type HostAddressResult = { ok: true; host: HostAddress } | { ok: false; reason: string };

/**
 * Documentation ranges (RFC 5737, RFC 3849) are never routed, so a grant to one opens nothing; they are
 * allowed so the documented examples and drills work. ipaddr.js files them under "reserved".
 */
const DOCUMENTATION = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32'].map((c) =>
  ipaddr.parseCIDR(c),
);

/** ipaddr.js ranges a real client can come from: public unicast, private, CGNAT, ULA, 6to4/Teredo/NAT64. */
const CLIENT_RANGES = new Set([
  'unicast',
  'private',
  'carrierGradeNat',
  'uniqueLocal',
  '6to4',
  'teredo',
  'rfc6052',
]);

/** Why an address of an ipaddr.js range is not a host that can be granted. */
const REFUSED: Record<string, string> = {
  unspecified: 'is the unspecified address ("any host"), not a host',
  loopback: 'is a loopback address: it never reaches AWS',
  linkLocal: 'is a link-local address: it only exists on one local network segment',
  multicast: 'is a multicast group, not a host',
  broadcast: 'is the broadcast address, not a host',
  reserved: 'is in reserved address space: no real client has it',
  discard: 'is in the IPv6 discard range: no real client has it',
  benchmarking: 'is in the benchmarking range: no real client has it',
  amt: 'is in reserved address space: no real client has it',
  as112: 'is in reserved address space: no real client has it',
  deprecated: 'is in a deprecated address range: no real client has it',
  orchid2: 'is an ORCHID identifier, not a routable address',
};

const DOTTED_DECIMAL = /^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/;

function isDocumentation(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return DOCUMENTATION.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

/**
 * Parses what a person typed (or what API Gateway saw) as one host to grant: an IPv4 address becomes
 * /32 and an IPv6 address /128. A CIDR is accepted only when it is already one host. Refuses, with a
 * sentence saying why: anything wider, and unspecified, loopback, link-local, multicast, broadcast and
 * reserved addresses. IPv4-mapped IPv6 (::ffff:a.b.c.d) is treated as the IPv4 address.
 */
export function parseHostAddress(text: string): HostAddressResult {
  const input = text.trim().replace(/^\[(.*)\]$/, '$1');
  if (input === '') return { ok: false, reason: 'No address was given.' };
  const shown = input.length > 60 ? `${input.slice(0, 60)}…` : input;
  const [host = '', bits] = input.split('/');
  // ipaddr.js also reads "1.2.3" as 1.2.0.3 and "010.0.0.1" as octal: accept only dotted decimal.
  if (!host.includes(':') && !DOTTED_DECIMAL.test(host))
    return { ok: false, reason: `"${shown}" is not an IPv4 or IPv6 address.` };
  if (bits !== undefined && !/^\d{1,3}$/.test(bits))
    return { ok: false, reason: `"${shown}" is not an IPv4 or IPv6 address.` };
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  let prefix: number | null = null;
  try {
    if (input.includes('/')) {
      [address, prefix] = ipaddr.parseCIDR(input);
    } else {
      if (!ipaddr.isValid(input)) throw new Error('not an address');
      address = ipaddr.parse(input);
    }
  } catch {
    return { ok: false, reason: `"${shown}" is not an IPv4 or IPv6 address.` };
  }
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).zoneId)
    return {
      ok: false,
      reason: `${shown} has an IPv6 zone: it is a link-local address, not a host AWS sees.`,
    };
  const hostBits = address.kind() === 'ipv4' ? 32 : 128;
  if (prefix !== null && prefix !== hostBits) {
    if (prefix === 0)
      return {
        ok: false,
        reason: `${shown} is the whole internet. sg-warden grants one address at a time: give your own address.`,
      };
    const count =
      address.kind() === 'ipv4' ? `${2 ** (32 - prefix)} addresses` : `2^${128 - prefix} addresses`;
    return {
      ok: false,
      reason: `${shown} covers ${count}. sg-warden grants one address at a time: give a single address (it becomes /${hostBits}).`,
    };
  }
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    address = (address as ipaddr.IPv6).toIPv4Address();
  }
  const canonical = address.toString();
  if (!isDocumentation(address)) {
    const range = address.range();
    if (!CLIENT_RANGES.has(range)) {
      const why = REFUSED[range] ?? `is in the special-purpose "${range}" range: no real client has it`;
      return { ok: false, reason: `${canonical} ${why}. Give the public address you connect from.` };
    }
  }
  const kind = address.kind();
  return { ok: true, host: { kind, address: canonical, cidr: `${canonical}/${kind === 'ipv4' ? 32 : 128}` } };
}
