import { parseConfig } from '../../../../services/config/config';
import {
  activeDue,
  describeAccess,
  extendBy,
  grantDescription,
  newGrantId,
  sanitizeRuleDescription,
} from '../../../../services/grants/grants';
import type { GrantItem } from '../../../../services/grants/items';

describe('grant helpers', () => {
  describe('newGrantId', () => {
    it('makes short, distinct IDs the commands accept', () => {
      const ids = new Set(Array.from({ length: 200 }, newGrantId));
      expect(ids.size).toBe(200);
      for (const id of ids) expect(id).toMatch(/^g-[a-z0-9]{10}$/);
    });
  });

  describe('rule descriptions', () => {
    it('names the grant, the person and the expiry', () => {
      expect(grantDescription('g-abcdefghjk', 'erin.engineer', '2026-11-23T12:34:56.789Z')).toBe(
        'sg-warden grant g-abcdefghjk for @erin.engineer until 2026-11-23T12:34Z',
      );
    });

    it("keeps only EC2's allowed characters and its 255-character limit", () => {
      const description = grantDescription(
        'g-abcdefghjk',
        `Zoë "<script>" O'Brien ${'x'.repeat(400)}`,
        '2026-11-23T12:00:00Z',
      );
      expect(description).toMatch(/^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]+$/);
      expect(description.length).toBeLessThanOrEqual(255);
      expect(description).toContain('@ZoscriptOBrien');
      expect(description).toContain('until 2026-11-23T12:00Z');
    });

    it('never leaves the name empty', () => {
      expect(grantDescription('g-abcdefghjk', '日本語', '2026-11-23T12:00:00Z')).toContain(
        'for @unknown until',
      );
      expect(sanitizeRuleDescription('  a\tb\nc  ')).toBe('a b c');
    });
  });

  describe('activeDue', () => {
    const now = new Date('2026-11-23T10:00:00Z');
    it('warns ten minutes before the end, then expires', () => {
      expect(activeDue('2026-11-23T11:00:00.000Z', now, false)).toEqual({
        kind: 'GRANT_WARN',
        at: '2026-11-23T10:50:00.000Z',
      });
      expect(activeDue('2026-11-23T11:00:00.000Z', now, true)).toEqual({
        kind: 'GRANT_EXPIRY',
        at: '2026-11-23T11:00:00.000Z',
      });
    });

    it('skips the warning when the grant is shorter than ten minutes', () => {
      expect(activeDue('2026-11-23T10:05:00.000Z', now, false)).toEqual({
        kind: 'GRANT_EXPIRY',
        at: '2026-11-23T10:05:00.000Z',
      });
    });
  });

  describe('extendBy', () => {
    const config = parseConfig(
      `slack: { alertChannel: C0TEST }
whitelist:
  targets:
    bastion: { groupId: sg-0123456789abcdef0, region: eu-west-1, ports: [22], defaultDuration: 1h, maxDuration: 2h }
`,
      'test.yml',
    );
    const grant = (expiresAt: string, alias = 'bastion') => ({ alias, expiresAt }) as GrantItem;
    const now = new Date('2026-11-23T10:00:00Z');

    it("offers the target's default within its longest duration from now", () => {
      expect(extendBy(config, grant('2026-11-23T10:10:00Z'), now)).toBe(3600);
      expect(extendBy(config, grant('2026-11-23T11:30:00Z'), now)).toBe(1800);
    });

    it('offers nothing when the longest is reached, or the target is gone', () => {
      expect(extendBy(config, grant('2026-11-23T12:00:00Z'), now)).toBeNull();
      expect(extendBy(config, grant('2026-11-23T10:10:00Z', 'removed'), now)).toBeNull();
    });
  });

  it('describes access in words', () => {
    expect(describeAccess('tcp', 22)).toBe('TCP 22');
    expect(describeAccess('udp', 53)).toBe('UDP 53');
    expect(describeAccess('icmpv6', null)).toBe('ICMPv6');
    expect(describeAccess('all', null)).toBe('all traffic');
  });
});
