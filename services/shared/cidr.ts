import ipaddr from 'ipaddr.js';

export type ParsedCidr = { kind: 'ipv4' | 'ipv6'; address: ipaddr.IPv4 | ipaddr.IPv6; prefix: number };

/** Parses a CIDR leniently (host bits may be set, as CloudTrail records them); null when it is not one. */
export function parseCidr(text: string): ParsedCidr | null {
  try {
    const [address, prefix] = ipaddr.parseCIDR(text.trim());
    return { kind: address.kind(), address, prefix } as ParsedCidr;
  } catch {
    return null;
  }
}

// Special-purpose space (RFC 6890 and successors): never "the internet".
const RESERVED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
].map((c) => ipaddr.parseCIDR(c));
const RESERVED_V6 = [
  '::/128',
  '::1/128',
  '100::/64',
  '2001:db8::/32',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
].map((c) => ipaddr.parseCIDR(c));

/** True when every address of `inner` lies inside `outer`. */
export function isWithin(inner: ParsedCidr, outer: ParsedCidr): boolean {
  if (inner.kind !== outer.kind || inner.prefix < outer.prefix) return false;
  return inner.address.match([outer.address, outer.prefix] as [ipaddr.IPv4, number]);
}

/** True when the whole CIDR lies inside private or reserved address space. */
export function isWhollyReserved(cidr: ParsedCidr): boolean {
  const ranges = (cidr.kind === 'ipv4' ? RESERVED_V4 : RESERVED_V6).map(
    ([address, prefix]): ParsedCidr => ({ kind: cidr.kind, address, prefix }) as ParsedCidr,
  );
  return isCovered(cidr, ranges);
}

/**
 * True when the ranges cover the whole CIDR, possibly together: 224.0.0.0/3 is multicast (224/4) plus
 * class E (240/4), reserved though inside neither alone. Splits only while some range lies inside.
 */
function isCovered(cidr: ParsedCidr, ranges: readonly ParsedCidr[]): boolean {
  if (ranges.some((r) => isWithin(cidr, r))) return true;
  if (!ranges.some((r) => r.prefix > cidr.prefix && isWithin(r, cidr))) return false;
  const [lower, upper] = halves(cidr);
  return isCovered(lower, ranges) && isCovered(upper, ranges);
}

/** The two CIDRs one bit longer that make up `cidr`. */
function halves(cidr: ParsedCidr): [ParsedCidr, ParsedCidr] {
  const bytes = ipaddr.parse(canonicalCidr(cidr).split('/')[0]!).toByteArray();
  const prefix = cidr.prefix + 1;
  // fromByteArray keeps the array it is given: each half gets its own copy.
  const lower = ipaddr.fromByteArray([...bytes]);
  bytes[Math.floor(cidr.prefix / 8)]! |= 0x80 >> (cidr.prefix % 8);
  const upper = ipaddr.fromByteArray([...bytes]);
  return [
    { kind: cidr.kind, address: lower, prefix } as ParsedCidr,
    { kind: cidr.kind, address: upper, prefix } as ParsedCidr,
  ];
}

/**
 * A source is open to the internet when it is 0.0.0.0/0 or ::/0, or any CIDR of /8 or shorter (IPv4)
 * or /32 or shorter (IPv6) that is not wholly inside private or reserved space.
 */
export function isInternetCidr(cidr: ParsedCidr): boolean {
  const widest = cidr.kind === 'ipv4' ? 8 : 32;
  if (cidr.prefix === 0) return true;
  return cidr.prefix <= widest && !isWhollyReserved(cidr);
}

/** Normalises a single address or CIDR to canonical CIDR text (network address, given prefix). */
export function canonicalCidr(cidr: ParsedCidr): string {
  const network =
    cidr.kind === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${cidr.address.toString()}/${cidr.prefix}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${cidr.address.toString()}/${cidr.prefix}`);
  return `${network.toString()}/${cidr.prefix}`;
}
