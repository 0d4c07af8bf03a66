import {
  canonicalCidr,
  isInternetCidr,
  isWhollyReserved,
  isWithin,
  type ParsedCidr,
  parseCidr,
} from '../../../../services/shared/cidr';

/** Parses a CIDR the test knows to be valid. */
function cidr(text: string): ParsedCidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`test fixture ${text} is not a CIDR`);
  return parsed;
}

describe('cidr', () => {
  describe('parseCidr', () => {
    it('parses IPv4 and IPv6 CIDRs with their kind and prefix', () => {
      expect(parseCidr('10.1.0.0/16')).toMatchObject({ kind: 'ipv4', prefix: 16 });
      expect(parseCidr('2001:db8::/32')).toMatchObject({ kind: 'ipv6', prefix: 32 });
    });

    it('accepts host bits and surrounding spaces, as CloudTrail records may have them', () => {
      const parsed = parseCidr(' 208.236.235.254/0 ');

      expect(parsed?.prefix).toBe(0);
      expect(parsed?.address.toString()).toBe('208.236.235.254');
    });

    it.each(['not-a-cidr', '10.0.0.0/33', '::/129', '10.0.0.0', '', 'sg-0123456789abcdef0', '300.1.1.1/8'])(
      'returns null for %p',
      (text) => {
        expect(parseCidr(text)).toBeNull();
      },
    );
  });

  describe('isWithin', () => {
    it('is true when every address of the inner range is in the outer one', () => {
      expect(isWithin(cidr('10.1.2.0/24'), cidr('10.0.0.0/8'))).toBe(true);
      expect(isWithin(cidr('10.0.0.0/8'), cidr('10.0.0.0/8'))).toBe(true);
      expect(isWithin(cidr('2600:1f18::/32'), cidr('2600::/12'))).toBe(true);
    });

    it('is false for a wider inner range, a disjoint range or another address family', () => {
      expect(isWithin(cidr('10.0.0.0/7'), cidr('10.0.0.0/8'))).toBe(false);
      expect(isWithin(cidr('11.0.0.0/24'), cidr('10.0.0.0/8'))).toBe(false);
      expect(isWithin(cidr('::/0'), cidr('0.0.0.0/0'))).toBe(false);
    });
  });

  describe('isWhollyReserved', () => {
    it.each([
      '10.0.0.0/8',
      '192.168.1.0/24',
      '100.64.0.0/10',
      '224.0.0.0/4',
      'fc00::/7',
      'fe80::/10',
      '2001:db8::/32',
    ])('is true for %s, inside one reserved range', (text) => {
      expect(isWhollyReserved(cidr(text))).toBe(true);
    });

    it('is true for a range covered only by several reserved ranges together (multicast plus class E)', () => {
      expect(isWhollyReserved(cidr('224.0.0.0/3'))).toBe(true);
      expect(isWhollyReserved(cidr('255.1.2.3/3'))).toBe(true);
    });

    it.each(['0.0.0.0/0', '0.0.0.0/7', '10.0.0.0/7', '192.0.0.0/2', '::/0', 'fe00::/7', '::/8'])(
      'is false for %s, which holds public addresses',
      (text) => {
        expect(isWhollyReserved(cidr(text))).toBe(false);
      },
    );
  });

  describe('isInternetCidr', () => {
    it.each([
      ['0.0.0.0/0', true],
      ['::/0', true],
      ['208.236.235.254/0', true],
      ['11.0.0.0/8', true],
      ['0.0.0.0/1', true],
      ['2600::/16', true],
      ['10.0.0.0/8', false],
      ['11.0.0.0/9', false],
      ['1.2.3.4/32', false],
      ['224.0.0.0/4', false],
      ['224.0.0.0/3', false],
      ['2001:db8::/32', false],
      ['fc00::/7', false],
      ['2600::/33', false],
    ])('rates %s as internet: %p', (text, expected) => {
      expect(isInternetCidr(cidr(text))).toBe(expected);
    });
  });

  describe('canonicalCidr', () => {
    it.each([
      ['10.1.2.3/8', '10.0.0.0/8'],
      ['208.236.235.254/0', '0.0.0.0/0'],
      ['192.0.2.7/32', '192.0.2.7/32'],
      ['2001:db8::1/32', '2001:db8::/32'],
    ])('writes %s as %s', (text, expected) => {
      expect(canonicalCidr(cidr(text))).toBe(expected);
    });
  });
});
