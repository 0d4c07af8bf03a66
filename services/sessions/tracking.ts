import type { RuleFacts } from '../shared/model';

/**
 * Whether removing a rule cut the connections it let in, under AWS's rules for security-group connection
 * tracking (EC2 User Guide, "Security group connection tracking"):
 *
 * - A flow is untracked only when a rule permits TCP or UDP for all traffic (0.0.0.0/0 or ::/0) and a rule
 *   in the other direction permits all response traffic (0.0.0.0/0 or ::/0, same family) on all ports
 *   (0–65535) for that protocol. An untracked flow ends the moment the rule that allowed it is removed.
 * - Everything else is tracked: a narrower source, a security-group or prefix-list source, ICMP (always
 *   tracked) and every other protocol. A tracked connection outlives the rule until it is idle for the
 *   tracking timeout (TCP established: 432,000 s, 5 days, by default on most instance types).
 * - Flows through a load balancer, NAT gateway and other AWS-tracked paths are always tracked, whatever
 *   the rules: sg-warden cannot see which path a flow took, so "cut" holds for direct flows only.
 *
 * Computed from the group's rules as EC2 has them when the rule is revoked, never from the event.
 */
export type TrackingVerdict = 'untracked' | 'partly' | 'tracked' | 'unknown';

export interface ConnectionTracking {
  verdict: TrackingVerdict;
  /** The protocols whose flows were untracked (cut), e.g. ['tcp']. */
  untracked: string[];
  /** Why, in one plain sentence part (no markup). */
  reason: string;
}

const WORLD: Record<string, string> = { ipv4: '0.0.0.0/0', ipv6: '::/0' };

/** True when the rule's source (ingress) or destination (egress) is every address of its family. */
export function isWorldOpen(rule: Pick<RuleFacts, 'source' | 'sourceKind'>): boolean {
  const world = WORLD[rule.sourceKind];
  return world !== undefined && rule.source === world;
}

/** The protocols among TCP and UDP whose flows a rule allows (an all-traffic rule: both). */
function trackableProtocols(rule: RuleFacts): string[] {
  const p = String(rule.protocol);
  if (p === 'all' || p === '-1') return ['tcp', 'udp'];
  if (p === 'tcp' || p === '6') return ['tcp'];
  if (p === 'udp' || p === '17') return ['udp'];
  return [];
}

/** True when `rule` permits all traffic of `protocol` on every port to or from the whole `world`. */
function permitsAllResponses(rule: RuleFacts, protocol: string, family: string): boolean {
  if (rule.sourceKind !== family || !isWorldOpen(rule)) return false;
  const p = String(rule.protocol);
  if (p === 'all' || p === '-1') return true;
  const same = protocol === 'tcp' ? p === 'tcp' || p === '6' : p === 'udp' || p === '17';
  return same && (rule.fromPort ?? 0) <= 0 && (rule.toPort ?? 65535) >= 65535;
}

/**
 * Whether the flows `revoked` allowed were tracked, given every rule of its group as EC2 had them when it
 * was revoked (`groupRules`, the revoked rule among them or not); `null` rules: they could not be read.
 */
export function connectionTracking(
  revoked: RuleFacts,
  groupRules: readonly RuleFacts[] | null,
): ConnectionTracking {
  const other = revoked.direction === 'ingress' ? 'outbound' : 'inbound';
  if (!isWorldOpen(revoked)) {
    const what =
      revoked.sourceKind === 'security-group' || revoked.sourceKind === 'prefix-list'
        ? `allowed ${revoked.source}, not every address`
        : `allowed ${revoked.source}, not all of ${revoked.sourceKind === 'ipv6' ? '::/0' : '0.0.0.0/0'}`;
    return { verdict: 'tracked', untracked: [], reason: `the rule ${what}, so AWS tracked its connections` };
  }
  const candidates = trackableProtocols(revoked);
  if (candidates.length === 0) {
    const p = String(revoked.protocol);
    const why =
      p === 'icmp' || p === 'icmpv6' || p === '1' || p === '58'
        ? 'ICMP is always tracked'
        : `AWS tracks protocol ${p}`;
    return { verdict: 'tracked', untracked: [], reason: why };
  }
  if (groupRules === null)
    return {
      verdict: 'unknown',
      untracked: [],
      reason: `sg-warden could not read the group's rules to tell whether AWS tracked these connections`,
    };
  const otherDirection = revoked.direction === 'ingress' ? 'egress' : 'ingress';
  const world = WORLD[revoked.sourceKind]!;
  const untracked = candidates.filter((protocol) =>
    groupRules.some(
      (r) =>
        r.direction === otherDirection &&
        (r.ruleId === null || r.ruleId !== revoked.ruleId) &&
        permitsAllResponses(r, protocol, revoked.sourceKind),
    ),
  );
  if (untracked.length === 0)
    return {
      verdict: 'tracked',
      untracked,
      reason: `no ${other} rule of the group allows all ${candidates.join(' and ').toUpperCase()} traffic to ${world} on every port, so AWS tracked its connections`,
    };
  const open = `it was open to ${world} and an ${other} rule allows all ${untracked.join(' and ').toUpperCase()} traffic to ${world}, so AWS did not track ${untracked.join(' or ').toUpperCase()} flows`;
  const isAll = String(revoked.protocol) === 'all' || String(revoked.protocol) === '-1';
  if (untracked.length === candidates.length && !isAll)
    return { verdict: 'untracked', untracked, reason: open };
  const rest = isAll
    ? [
        ...candidates.filter((p) => !untracked.includes(p)).map((p) => p.toUpperCase()),
        'ICMP and other protocols',
      ]
    : [];
  return { verdict: 'partly', untracked, reason: `${open}; ${rest.join(', ')} were tracked` };
}
