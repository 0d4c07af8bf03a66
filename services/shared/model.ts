/** Which way a security-group rule lets traffic through. */
export type Direction = 'ingress' | 'egress';

/** A normalised IP protocol: the common names, or the protocol number as a string. */
export type Protocol = 'all' | 'tcp' | 'udp' | 'icmp' | 'icmpv6' | (string & {});

/** What a rule's source (ingress) or destination (egress) is. */
export type SourceKind = 'ipv4' | 'ipv6' | 'security-group' | 'prefix-list';

export type Severity = 'critical' | 'high' | 'medium' | 'low';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];

/** One security-group rule, as far as sg-warden cares about it. */
export interface RuleFacts {
  groupId: string;
  /** The security-group rule ID (sgr-…) or null when the record does not carry one. */
  ruleId: string | null;
  direction: Direction;
  protocol: Protocol;
  /** First port (or ICMP type); null means all. */
  fromPort: number | null;
  /** Last port (or ICMP code); null means all. */
  toPort: number | null;
  /** The CIDR, "sg-…" or "pl-…". */
  source: string;
  sourceKind: SourceKind;
  description: string | null;
}

/** True when two rules let the same traffic through: direction, protocol, ports and source (rule ID and group aside). */
export function sameRuleContent(a: RuleFacts, b: RuleFacts): boolean {
  return (
    a.direction === b.direction &&
    a.protocol === b.protocol &&
    a.fromPort === b.fromPort &&
    a.toPort === b.toPort &&
    a.source === b.source
  );
}

/** Who made an API call, from CloudTrail's userIdentity and request context. */
export interface Actor {
  /** The principal's ARN (or the invoking service / principal ID when no ARN is recorded). */
  arn: string;
  type: string;
  /** For an assumed role, the role's own ARN (arn:aws:iam::…:role/…). */
  roleArn: string | null;
  invokedBy: string | null;
  sourceIp: string | null;
  userAgent: string | null;
}

export type SgEventKind =
  | 'authorize'
  | 'modify'
  | 'revoke'
  | 'create-group'
  | 'delete-group'
  | 'describe-rules'
  /** CreateTags / DeleteTags: only security groups among the resources matter. */
  | 'tags-added'
  | 'tags-removed'
  /** CreateManagedPrefixList / ModifyManagedPrefixList. */
  | 'prefix-list';

/** Tags a call set or removed (CreateTags, DeleteTags, CreateSecurityGroup's tag specifications). */
export interface TagChange {
  /** The security groups among the call's resources (sg-…); other resource IDs are left out. */
  groupIds: string[];
  /** Each tag as the call names it; value null: DeleteTags without a value (any value). */
  tags: { key: string; value: string | null }[];
}

/** One successful security-group API call, normalised from any CloudTrail shape. */
export interface SgEvent {
  eventId: string;
  eventName: string;
  eventTime: string;
  region: string;
  account: string;
  actor: Actor;
  kind: SgEventKind;
  groupId: string | null;
  /** Rules the call added or changed, as far as the record tells. */
  rules: RuleFacts[];
  /** Rule IDs the call named (modify, revoke by ID). */
  ruleIds: string[];
  /** True when the rules' details must be read from EC2 before they can be evaluated. */
  needsLookup: boolean;
  /** Why the details must be read from EC2, in plain English. */
  lookupReason: string | null;
  requestId: string | null;
  /**
   * What a ModifySecurityGroupRules request asked each rule to become, as the record says (the direction
   * is not recorded: taken as ingress). Only a hint, for when EC2 cannot be asked.
   */
  requested?: RuleFacts[];
  /** CreateTags / DeleteTags, and CreateSecurityGroup with tags: what was tagged how (a hint; EC2 decides). */
  tagChange?: TagChange;
  /** Create/ModifyManagedPrefixList: the list, and the entries the call says it added (a hint; EC2 decides). */
  prefixList?: { id: string | null; added: string[] };
  /** Set when the record contradicts itself or its envelope (account, region): the event is refused. */
  mismatch?: string;
}

/** A rule that breaks the policy, with what to do about it. */
export interface Finding {
  rule: RuleFacts;
  severity: Severity;
  reasons: string[];
  /** alert: ask a human, auto-revoke at the deadline; notify: tell, never auto-revoke. */
  action: 'alert' | 'notify';
  /** Seconds until auto-revoke, or null for notify-only. */
  timeoutSeconds: number | null;
  /** Never revoke: record what would have been done. */
  dryRun: boolean;
}
