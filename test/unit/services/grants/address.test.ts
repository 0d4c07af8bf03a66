import { parseHostAddress } from '../../../../services/grants/address';

function refusal(text: string): string {
  const result = parseHostAddress(text);
  if (result.ok) throw new Error(`expected ${text} to be refused, got ${result.host.cidr}`);
  return result.reason;
}

describe('parseHostAddress', () => {
  describe('single hosts', () => {
    it.each([
      ['8.8.8.8', '8.8.8.8/32'],
      [' 52.94.76.10 ', '52.94.76.10/32'],
      ['52.94.76.10/32', '52.94.76.10/32'],
      ['10.1.2.3', '10.1.2.3/32'],
      ['100.64.0.9', '100.64.0.9/32'],
      ['203.0.113.7', '203.0.113.7/32'],
      ['2606:4700:4700::1111', '2606:4700:4700::1111/128'],
      ['[2606:4700:4700::1111]', '2606:4700:4700::1111/128'],
      ['2606:4700:4700:0:0:0:0:1111/128', '2606:4700:4700::1111/128'],
      ['2001:db8::7', '2001:db8::7/128'],
      ['fd12:3456::1', 'fd12:3456::1/128'],
      ['::ffff:198.51.100.9', '198.51.100.9/32'],
    ])('grants %s as %s', (text, cidr) => {
      const result = parseHostAddress(text);
      expect(result).toEqual({ ok: true, host: expect.objectContaining({ cidr }) });
    });

    it('says which family the address is', () => {
      expect(parseHostAddress('2606:4700::1')).toMatchObject({ ok: true, host: { kind: 'ipv6' } });
      expect(parseHostAddress('8.8.4.4')).toMatchObject({
        ok: true,
        host: { kind: 'ipv4', address: '8.8.4.4' },
      });
    });
  });

  describe('wider ranges', () => {
    it('refuses the whole internet', () => {
      expect(refusal('0.0.0.0/0')).toMatch(/whole internet/);
      expect(refusal('::/0')).toMatch(/whole internet/);
    });

    it('refuses a CIDR wider than one host and says how many addresses it covers', () => {
      expect(refusal('203.0.113.0/24')).toMatch(/covers 256 addresses.*single address.*\/32/);
      expect(refusal('8.8.8.8/31')).toMatch(/covers 2 addresses/);
      expect(refusal('2606:4700::/64')).toMatch(/2\^64 addresses.*\/128/);
    });
  });

  describe('special addresses', () => {
    it.each([
      ['0.0.0.0', /unspecified/],
      ['0.1.2.3', /unspecified/],
      ['::', /unspecified/],
      ['127.0.0.1', /loopback/],
      ['::1', /loopback/],
      ['169.254.169.254', /link-local/],
      ['fe80::1', /link-local/],
      ['fe80::1%eth0', /link-local/],
      ['224.0.0.251', /multicast/],
      ['ff02::1', /multicast/],
      ['255.255.255.255', /broadcast/],
      ['240.0.0.1', /reserved/],
      ['198.18.0.1', /reserved/],
      ['100::1', /discard/],
    ])('refuses %s', (text, why) => {
      expect(refusal(text)).toMatch(why);
    });
  });

  describe('not addresses', () => {
    it.each(['', 'me2', 'bastion', '1.2.3', '1.2.3.4.5', '300.1.1.1', '1.2.3.4/33', 'gggg::1', '8.8.8.8/x'])(
      'refuses %j with a sentence',
      (text) => {
        expect(refusal(text)).toMatch(/not an IPv4 or IPv6 address|No address/);
      },
    );

    it('keeps a long junk input short in the sentence', () => {
      expect(refusal('x'.repeat(500)).length).toBeLessThan(120);
    });
  });
});

describe('parseHostAddress: shorthand IPv4 forms', () => {
  it.each(['1.2.3', '10.1', '0x7f.0.0.1', '010.0.0.1', '2130706433'])(
    'refuses %s instead of reading it as some other address',
    (text) => {
      expect(parseHostAddress(text)).toEqual({ ok: false, reason: expect.stringMatching(/not an IPv4/) });
    },
  );
});
