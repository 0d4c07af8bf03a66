import { parseWhitelistCommand } from '../../../../slack/commands/whitelist';

const ALIASES = ['bastion', 'db'];
const parse = (text: string) => parseWhitelistCommand(text, ALIASES);

describe('parseWhitelistCommand', () => {
  describe('grants', () => {
    it.each([
      ['bastion 203.0.113.7', { port: null, durationSeconds: null }],
      ['bastion 203.0.113.7 for 2h', { port: null, durationSeconds: 7200 }],
      ['bastion 203.0.113.7 443', { port: 443, durationSeconds: null }],
      ['bastion 203.0.113.7 443 for 30m', { port: 443, durationSeconds: 1800 }],
      ['bastion 203.0.113.7 for 1d 443', { port: 443, durationSeconds: 86400 }],
      ['bastion 203.0.113.7 2h', { port: null, durationSeconds: 7200 }],
      ['bastion 203.0.113.7 port 22', { port: 22, durationSeconds: null }],
      ['  BASTION   203.0.113.7   FOR   45m ', { port: null, durationSeconds: 2700 }],
    ])('reads %j', (text, expected) => {
      expect(parse(text)).toEqual({
        kind: 'grant',
        alias: 'bastion',
        address: '203.0.113.7',
        isLink: false,
        ...expected,
      });
    });

    it('reads `me` as a request for a link', () => {
      expect(parse('db me for 1h')).toEqual({
        kind: 'grant',
        alias: 'db',
        address: 'me',
        isLink: true,
        port: null,
        durationSeconds: 3600,
      });
    });

    it('normalises the address it was given', () => {
      expect(parse('bastion 2001:DB8:0::1')).toMatchObject({ address: '2001:db8::1' });
      expect(parse('bastion 203.0.113.7/32')).toMatchObject({ address: '203.0.113.7' });
    });

    it('passes an unknown alias with an address on, for the service to name the targets', () => {
      expect(parse('nowhere 203.0.113.7')).toMatchObject({ kind: 'grant', alias: 'nowhere' });
    });
  });

  describe('malformed requests', () => {
    it.each([
      ['bastion', /Give the address to allow, or `me`/],
      ['bastion 10.0.0.0/8', /covers 16777216 addresses/],
      ['bastion 0.0.0.0', /unspecified/],
      ['bastion 203.0.113.7 for', /Say how long/],
      ['bastion 203.0.113.7 for ever', /"ever" is not a duration/],
      ['bastion 203.0.113.7 for 0m', /"0m" is too short: give a duration above zero/],
      ['bastion 203.0.113.7 99999', /99999 is not a port/],
      ['bastion 203.0.113.7 22 443', /I did not understand "443"/],
      ['bastion 203.0.113.7 for 1h 2h', /I did not understand "2h"/],
      ['bastion 203.0.113.7 please', /I did not understand "please"/],
      ['revoke', /Name the grant/],
      ['revoke 42', /"42" is not a grant ID/],
      ['revoke g-abcdefghjk g-abcdefghjm', /one grant at a time/],
      ['extend g-abcdefghjk', /Say how long/],
      ['extend g-abcdefghjk soon', /"soon" is not a duration/],
    ])('%j → one sentence', (text, message) => {
      expect(parse(text)).toEqual({ kind: 'invalid', message: expect.stringMatching(message) });
    });
  });

  describe('sub-commands', () => {
    it('reads list, revoke and extend', () => {
      expect(parse('list')).toEqual({ kind: 'list' });
      expect(parse('revoke G-ABCDEFGHJK')).toEqual({ kind: 'revoke', grantId: 'g-abcdefghjk' });
      expect(parse('extend g-abcdefghjk 2h')).toEqual({
        kind: 'extend',
        grantId: 'g-abcdefghjk',
        durationSeconds: 7200,
      });
      expect(parse('extend g-abcdefghjk by 30m')).toMatchObject({ durationSeconds: 1800 });
    });

    it.each(['', 'help', 'HELP', 'frobnicate', 'list all', '!!!'])('answers %j with help', (text) => {
      expect(parse(text)).toMatchObject({ kind: 'help' });
    });

    it('says what it did not understand', () => {
      expect(parse('frobnicate')).toEqual({ kind: 'help', note: 'I did not understand "frobnicate".' });
    });
  });
});
