import { type AuditActor, auditEntry } from '../kernel/audit';
import { keys, type StateStore, type StoredItem, tryTransition } from '../kernel/state';
import { parseCidr } from '../shared/cidr';
import type { RuleFacts } from '../shared/model';
import type { GrantItem } from './items';

/**
 * The record that a rule is sg-warden's own (OWNRULE#<region>#<ruleId>), written with the grant that
 * made it. What the rule must still be is the grant's: ingress, its protocol and port, its /32 or /128.
 */
export interface OwnRuleItem extends StoredItem {
  type: 'ownrule';
  grantId: string;
  groupId?: string;
  region?: string;
  createdAt?: string;
}

/** A change to a grant's rule made outside sg-warden, as detection saw it (EC2's view of the rule now). */
export interface RuleChange {
  /** The rule as it is now. */
  rule: RuleFacts;
  by: AuditActor;
  eventId: string;
  eventName: string;
  at: string;
}

/** Tells a grant's owner that the grant ended because someone changed its rule. */
export interface GrantChangeNotifier {
  grantEndedByChange(grant: GrantItem, change: RuleChange): Promise<void>;
}

/**
 * True while the rule is exactly what the grant made: ingress, in the grant's group, the grant's
 * protocol and port (every port/type for `all` and ICMP), from the granted host (/32 or /128).
 */
export function isAsGranted(
  rule: RuleFacts,
  grant: Pick<GrantItem, 'groupId' | 'protocol' | 'port' | 'cidr'>,
): boolean {
  if (rule.direction !== 'ingress' || rule.groupId !== grant.groupId) return false;
  if (rule.sourceKind !== 'ipv4' && rule.sourceKind !== 'ipv6') return false;
  const now = parseCidr(rule.source);
  const granted = parseCidr(grant.cidr);
  if (!now || !granted || now.kind !== granted.kind || now.prefix !== granted.prefix) return false;
  if (now.address.toNormalizedString() !== granted.address.toNormalizedString()) return false;
  if (rule.protocol !== grant.protocol) return false;
  if (grant.protocol === 'all') return true;
  if (grant.port === null) return rule.fromPort === null && rule.toPort === null;
  return rule.fromPort === grant.port && rule.toPort === grant.port;
}

/**
 * Ends an ACTIVE grant whose rule was changed outside sg-warden (→ CHANGED, audited as the principal
 * who changed it): it no longer expires, extends or shows as granted, and its rule is judged like any
 * other rule from now on (it is no longer sg-warden's). Returns the ended grant, or null when the grant
 * was not ACTIVE any more (already ending or ended): nothing is done twice.
 */
export async function endGrantForChangedRule(
  deps: { store: StateStore },
  grant: GrantItem,
  change: RuleChange,
): Promise<GrantItem | null> {
  return tryTransition<GrantItem>(deps.store, {
    key: keys.grant(grant.grantId),
    from: ['ACTIVE'],
    to: 'CHANGED',
    set: { endedAt: change.at, endedBy: change.by.id, changedRule: change.rule },
    due: null,
    audit: auditEntry({ id: grant.grantId, type: 'grant' }, change.by, {
      action: 'rule-changed',
      fromState: 'ACTIVE',
      toState: 'CHANGED',
      result: 'ok',
      at: change.at,
      details: {
        ruleId: change.rule.ruleId,
        eventId: change.eventId,
        eventName: change.eventName,
        granted: { protocol: grant.protocol, port: grant.port, cidr: grant.cidr, groupId: grant.groupId },
        now: change.rule,
      },
    }),
  });
}
