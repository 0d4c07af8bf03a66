import { connectionTracking } from '../../../../services/sessions/tracking';
import type { RuleFacts } from '../../../../services/shared/model';

const rule = (over: Partial<RuleFacts>): RuleFacts => ({
  groupId: 'sg-1',
  ruleId: 'sgr-in',
  direction: 'ingress',
  protocol: 'tcp',
  fromPort: 22,
  toPort: 22,
  source: '0.0.0.0/0',
  sourceKind: 'ipv4',
  description: null,
  ...over,
});
const egressAll = rule({
  ruleId: 'sgr-out',
  direction: 'egress',
  protocol: 'all',
  fromPort: null,
  toPort: null,
});
const egressAll6 = rule({ ...egressAll, ruleId: 'sgr-out6', source: '::/0', sourceKind: 'ipv6' });

describe('connectionTracking (AWS: Security group connection tracking)', () => {
  it('is untracked when the inbound rule is 0.0.0.0/0 and an outbound rule allows all traffic to 0.0.0.0/0', () => {
    const t = connectionTracking(rule({}), [rule({}), egressAll]);
    expect(t).toMatchObject({ verdict: 'untracked', untracked: ['tcp'] });
    expect(t.reason).toContain('0.0.0.0/0');
  });

  it('is untracked for ::/0 only with an outbound rule to ::/0 (the same family)', () => {
    const in6 = rule({ source: '::/0', sourceKind: 'ipv6' });
    expect(connectionTracking(in6, [egressAll]).verdict).toBe('tracked');
    expect(connectionTracking(in6, [egressAll6]).verdict).toBe('untracked');
  });

  it('is untracked when the outbound rule allows the protocol on every port (0-65535), tracked on fewer', () => {
    const tcpAll = rule({ ruleId: 'sgr-o', direction: 'egress', fromPort: 0, toPort: 65535 });
    expect(connectionTracking(rule({}), [tcpAll]).verdict).toBe('untracked');
    const tcp443 = rule({ ruleId: 'sgr-o', direction: 'egress', fromPort: 443, toPort: 443 });
    expect(connectionTracking(rule({}), [tcp443]).verdict).toBe('tracked');
    const udpAll = rule({
      ruleId: 'sgr-o',
      direction: 'egress',
      protocol: 'udp',
      fromPort: 0,
      toPort: 65535,
    });
    expect(connectionTracking(rule({}), [udpAll]).verdict).toBe('tracked');
  });

  it('is tracked when no outbound rule is open to everyone (the outbound rule removed)', () => {
    const narrow = rule({ ...egressAll, source: '10.0.0.0/8' });
    const t = connectionTracking(rule({}), [narrow]);
    expect(t.verdict).toBe('tracked');
    expect(t.reason).toContain('no outbound rule');
  });

  it('is tracked for a narrower source, a security group or a prefix list, whatever the outbound rules', () => {
    for (const over of [
      { source: '203.0.113.1/32' },
      { source: '0.0.0.0/1' },
      { source: 'sg-0abc', sourceKind: 'security-group' as const },
      { source: 'pl-0abc', sourceKind: 'prefix-list' as const },
    ])
      expect(connectionTracking(rule(over), [egressAll]).verdict).toBe('tracked');
  });

  it('always tracks ICMP (and protocols other than TCP and UDP)', () => {
    const icmp = connectionTracking(rule({ protocol: 'icmp', fromPort: -1, toPort: -1 }), [egressAll]);
    expect(icmp).toMatchObject({ verdict: 'tracked' });
    expect(icmp.reason).toBe('ICMP is always tracked');
    expect(connectionTracking(rule({ protocol: '47' }), [egressAll]).verdict).toBe('tracked');
  });

  it('is partly tracked for an all-traffic rule: TCP and UDP cut, ICMP and the rest tracked', () => {
    const t = connectionTracking(rule({ protocol: 'all', fromPort: null, toPort: null }), [egressAll]);
    expect(t).toMatchObject({ verdict: 'partly', untracked: ['tcp', 'udp'] });
    expect(t.reason).toContain('ICMP and other protocols were tracked');
  });

  it('is symmetric for an outbound rule: untracked with an inbound rule open to everyone on every port', () => {
    const out = rule({ direction: 'egress', ruleId: 'sgr-e', fromPort: 443, toPort: 443 });
    const inAll = rule({ ruleId: 'sgr-i', protocol: 'all', fromPort: null, toPort: null });
    expect(connectionTracking(out, [inAll]).verdict).toBe('untracked');
    expect(connectionTracking(out, []).verdict).toBe('tracked');
  });

  it('does not count the revoked rule as its own counterpart, and says unknown when the rules were unreadable', () => {
    const all = rule({ ruleId: 'sgr-x', protocol: 'all', fromPort: null, toPort: null });
    expect(connectionTracking(all, [all]).untracked).toEqual([]);
    expect(connectionTracking(rule({}), null).verdict).toBe('unknown');
  });
});
