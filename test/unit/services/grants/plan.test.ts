import { parseConfig } from '../../../../services/config/config';
import type { GrantItem } from '../../../../services/grants/items';
import {
  activeDue,
  describeAccess,
  ec2Refusal,
  extendBy,
  grantDescription,
  newGrantId,
  planExpiry,
  planExtension,
  revokeBackoffSeconds,
  sanitizeRuleDescription,
  targetNamed,
} from '../../../../services/grants/plan';

describe('grant plan (pure core)', () => {
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

  describe('targetNamed', () => {
    const config = parseConfig(
      `slack: { alertChannel: C0TEST }
whitelist:
  targets:
    bastion: { groupId: sg-0123456789abcdef0, region: eu-west-1, ports: [22] }
`,
      'test.yml',
    );

    it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])(
      'case 5: %s is no target (own keys only)',
      (alias) => {
        expect(targetNamed(config, alias)).toBeNull();
      },
    );

    it('finds a configured target', () => {
      expect(targetNamed(config, 'bastion')).toMatchObject({ groupId: 'sg-0123456789abcdef0' });
    });
  });

  describe('planExtension', () => {
    const target = { maxDuration: 7200, defaultDuration: 3600 } as Parameters<typeof planExtension>[0];
    const now = new Date('2026-11-23T10:00:00Z');
    const grant = (expiresAt: string) =>
      ({ grantId: 'g-abcdefghjk', alias: 'bastion', expiresAt }) as GrantItem;

    it('adds the seconds asked for, or the default, to the current expiry', () => {
      expect(planExtension(target, grant('2026-11-23T10:30:00.000Z'), 1800, now, false)).toEqual({
        expiresAt: '2026-11-23T11:00:00.000Z',
      });
      expect(planExtension(target, grant('2026-11-23T10:30:00.000Z'), null, now, false)).toEqual({
        expiresAt: '2026-11-23T11:30:00.000Z',
      });
    });

    it('refuses past the longest from now, unless capped; capped at the longest, it refuses', () => {
      expect(planExtension(target, grant('2026-11-23T11:30:00.000Z'), null, now, false)).toMatchObject({
        refusal: { code: 'BAD_DURATION' },
      });
      expect(planExtension(target, grant('2026-11-23T11:30:00.000Z'), null, now, true)).toEqual({
        expiresAt: '2026-11-23T12:00:00.000Z',
      });
      expect(planExtension(target, grant('2026-11-23T12:00:00.000Z'), null, now, true)).toMatchObject({
        refusal: { code: 'BAD_DURATION' },
      });
    });
  });

  describe('planExpiry', () => {
    const now = new Date('2026-11-23T11:00:00Z');
    const grant = (over: Partial<GrantItem>) =>
      ({
        status: 'ACTIVE',
        dueKind: 'GRANT_EXPIRY',
        dueAt: '2026-11-23T11:00:00.000Z',
        expiresAt: '2026-11-23T11:00:00.000Z',
        ...over,
      }) as GrantItem;

    it('removes an ACTIVE grant past its expiry, by the clock', () => {
      expect(planExpiry(grant({}), now)).toMatchObject({
        kind: 'remove',
        endAs: 'EXPIRED',
        by: { type: 'timeout' },
      });
    });

    it('retries a failed removal as it was meant to end', () => {
      expect(planExpiry(grant({ status: 'REVOKE_FAILED', endAs: 'REVOKED' }), now)).toMatchObject({
        kind: 'remove',
        endAs: 'REVOKED',
        by: { type: 'system', name: 'retry' },
      });
    });

    it('cleans up an abandoned request, and leaves stale or finished entries alone', () => {
      expect(planExpiry(grant({ status: 'PENDING' }), now)).toEqual({ kind: 'reconcile' });
      expect(planExpiry(grant({ expiresAt: '2026-11-23T12:00:00.000Z' }), now)).toEqual({ kind: 'nothing' });
      expect(planExpiry(grant({ dueAt: '2026-11-23T11:05:00.000Z' }), now)).toEqual({ kind: 'nothing' });
      expect(planExpiry(grant({ dueKind: 'GRANT_WARN' }), now)).toEqual({ kind: 'nothing' });
      expect(planExpiry(grant({ status: 'EXPIRED' }), now)).toEqual({ kind: 'nothing' });
      expect(planExpiry(null, now)).toEqual({ kind: 'nothing' });
    });
  });

  describe('ec2Refusal', () => {
    const grant = { groupId: 'sg-0123456789abcdef0', alias: 'bastion', region: 'eu-west-1' };
    it.each([
      [
        'RulesPerSecurityGroupLimitExceeded',
        'RULE_LIMIT',
        /is full: it has 60 inbound rules and the limit is 60/,
      ],
      ['InvalidGroup.NotFound', 'GROUP_NOT_FOUND', /does not exist in eu-west-1/],
      ['UnauthorizedOperation', 'AWS_ACCESS_DENIED', /not allowed to add rules/],
      ['InvalidParameterValue', 'AWS_REFUSED', /EC2 refused the rule .*InvalidParameterValue/],
    ])('%s → %s', (awsCode, code, sentence) => {
      const refusal = ec2Refusal(grant, awsCode, { rules: 60, limit: 60 });
      expect(refusal.code).toBe(code);
      expect(refusal.message).toMatch(sentence);
    });
  });

  it('backs off a failed removal 1, 2, 4 … minutes, at most 30', () => {
    expect([1, 2, 3, 6, 10].map(revokeBackoffSeconds)).toEqual([60, 120, 240, 1800, 1800]);
  });
});
