import type { PolicyConfig } from '../config/config';
import { PROTECTED_TAG } from '../deploy/iam';
import { isInternetCidr, isWithin, parseCidr } from '../shared/cidr';
import type { Actor, Finding, RuleFacts, Severity } from '../shared/model';

/** What evaluation knows besides the rule itself; every field is data, nothing is looked up here. */
export interface EvaluationContext {
  actor: Actor | null;
  /** The group's tags, or null when they are not known (offline evaluation). */
  groupTags: Record<string, string> | null;
  /**
   * The entries (CIDRs) of the prefix lists the rules name, read from EC2 beforehand. A rule whose list
   * is not here cannot be judged by its source (offline evaluation) and raises nothing from the baseline.
   */
  prefixLists?: Readonly<Record<string, readonly string[]>>;
  /**
   * Who last set each of the group's tags, as sg-warden recorded it (services/detection/tags.ts). A tag in
   * `policy.exceptions.tags` exempts only when its setter here is a trusted tagger and set this value.
   */
  tagSetters?: Readonly<Record<string, TagSetter>> | null;
}

/** Who last set a group's tag (CreateTags or CreateSecurityGroup, confirmed in EC2), and the value set. */
export interface TagSetter {
  value: string;
  arn: string;
  /** For an assumed role, the role's own ARN. */
  roleArn: string | null;
}

/** The tag CloudFormation puts on every group it creates: the stack's name. */
export const STACK_NAME_TAG = 'aws:cloudformation:stack-name';

const SEVERITY_RANK: Record<Severity, number> = { critical: 4, high: 3, medium: 2, low: 1 };

const PORT_NAMES: Record<number, string> = {
  20: 'FTP data',
  21: 'FTP',
  22: 'SSH',
  23: 'Telnet',
  25: 'SMTP',
  110: 'POP3',
  135: 'MS RPC',
  139: 'NetBIOS',
  143: 'IMAP',
  445: 'SMB',
  1433: 'SQL Server',
  1434: 'SQL Server browser',
  1521: 'Oracle',
  2049: 'NFS',
  2375: 'Docker API',
  2376: 'Docker API (TLS)',
  3306: 'MySQL',
  3389: 'RDP',
  5432: 'PostgreSQL',
  5601: 'Kibana',
  5900: 'VNC',
  6379: 'Redis',
  9092: 'Kafka',
  9200: 'Elasticsearch',
  9300: 'Elasticsearch transport',
  11211: 'Memcached',
  27017: 'MongoDB',
  27018: 'MongoDB',
};

// Patterns come from the config file: few, and the same for every rule evaluated.
const compiledPatterns = new Map<string, RegExp>();
const compiledArnPatterns = new Map<string, RegExp>();

const escapeRegex = (text: string) => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/**
 * Loose glob where `*` stands for any run of characters, `:` and `/` included. Kept for
 * `decisions.principalToSlack`, where matching more only blocks more self-approvals (the safe side).
 */
export function matchesPattern(pattern: string, value: string): boolean {
  let regex = compiledPatterns.get(pattern);
  if (!regex) {
    regex = new RegExp(`^${escapeRegex(pattern).replace(/\*/g, '.*')}$`);
    compiledPatterns.set(pattern, regex);
  }
  return regex.test(value);
}

/**
 * ARN pattern match for rules that exempt: `*` stands for any run of characters within one ARN segment
 * (it never crosses `:` or `/`), `**` for any run at all. So `arn:aws:iam::*:role/*-ci-deploy` matches
 * `…:role/payments-ci-deploy` but not `…:role/x/y-ci-deploy` nor an account field holding `:role/…`.
 */
export function matchesArnPattern(pattern: string, value: string): boolean {
  let regex = compiledArnPatterns.get(pattern);
  if (!regex) {
    const body = pattern
      .split('**')
      .map((part) => part.split('*').map(escapeRegex).join('[^:/]*'))
      .join('.*');
    regex = new RegExp(`^${body}$`);
    compiledArnPatterns.set(pattern, regex);
  }
  return regex.test(value);
}

/** The source is an IPv4/IPv6 CIDR that counts as the internet (see isInternetCidr). */
export function isOpenToInternet(rule: RuleFacts): boolean {
  if (rule.sourceKind !== 'ipv4' && rule.sourceKind !== 'ipv6') return false;
  const cidr = parseCidr(rule.source);
  return cidr !== null && isInternetCidr(cidr);
}

/** The rule allows every protocol (-1). */
export function isAllProtocols(rule: RuleFacts): boolean {
  return rule.protocol === 'all';
}

/** The rule is TCP or UDP and covers every port, 0–65535. */
export function isWholePortRange(rule: RuleFacts): boolean {
  if (rule.protocol !== 'tcp' && rule.protocol !== 'udp') return false;
  return rule.fromPort === null || rule.toPort === null || (rule.fromPort <= 0 && rule.toPort >= 65535);
}

/** The TCP/UDP admin or data ports the rule's port range includes. */
export function adminPortsTouched(rule: RuleFacts, adminPorts: readonly number[]): number[] {
  if (rule.protocol !== 'tcp' && rule.protocol !== 'udp') return [];
  const from = rule.fromPort ?? 0;
  const to = rule.toPort ?? 65535;
  return [...new Set(adminPorts)].filter((p) => p >= from && p <= to).sort((a, b) => a - b);
}

/** The rule is exactly one allowed TCP/UDP port (by default TCP 80 or 443). */
export function isAllowedPort(rule: RuleFacts, allowed: PolicyConfig['allowedPorts']): boolean {
  return allowed.some(
    (a) => a.protocol === rule.protocol && rule.fromPort === a.port && rule.toPort === a.port,
  );
}

/** The rule is ICMP or ICMPv6. */
export function isIcmp(rule: RuleFacts): boolean {
  return rule.protocol === 'icmp' || rule.protocol === 'icmpv6';
}

/** Human words for a rule's protocol and ports, e.g. "TCP 22 (SSH)", "all traffic", "UDP 1000–2000". */
export function describePorts(rule: RuleFacts): string {
  if (rule.protocol === 'all') return 'all traffic';
  if (rule.protocol === 'icmp' || rule.protocol === 'icmpv6') {
    const name = rule.protocol.toUpperCase().replace('V6', 'v6');
    return rule.fromPort === null ? `${name} (all types)` : `${name} type ${rule.fromPort}`;
  }
  const name =
    rule.protocol === 'tcp' || rule.protocol === 'udp'
      ? rule.protocol.toUpperCase()
      : `protocol ${rule.protocol}`;
  if (rule.fromPort === null || rule.toPort === null) return `${name} all ports`;
  if (rule.fromPort === rule.toPort) {
    const known = PORT_NAMES[rule.fromPort];
    return `${name} ${rule.fromPort}${known ? ` (${known})` : ''}`;
  }
  if (rule.fromPort === 0 && rule.toPort === 65535) return `${name} all ports`;
  return `${name} ${rule.fromPort}–${rule.toPort}`;
}

/** One line for a rule, e.g. "ingress TCP 22 (SSH) from 0.0.0.0/0". */
export function describeRule(rule: RuleFacts): string {
  const preposition = rule.direction === 'ingress' ? 'from' : 'to';
  return `${rule.direction} ${describePorts(rule)} ${preposition} ${rule.source}`;
}

function internetReason(rule: RuleFacts): string {
  // Any /0 is the whole internet, whatever host bits it was written with (e.g. 208.236.235.254/0).
  if (parseCidr(rule.source)?.prefix === 0) return `${rule.source} is the whole internet`;
  return `${rule.source} is a wide public range, which counts as the internet`;
}

/** The baseline: what a rule open to the internet breaks, or null when it breaks nothing. */
function baseline(rule: RuleFacts, policy: PolicyConfig): { severity: Severity; reasons: string[] } | null {
  if (!isOpenToInternet(rule)) return null;
  const where = internetReason(rule);
  if (isAllProtocols(rule))
    return { severity: 'critical', reasons: [`all protocols and ports are open: ${where}`] };
  if (isWholePortRange(rule)) {
    return {
      severity: 'critical',
      reasons: [`every ${rule.protocol.toUpperCase()} port (0–65535) is open: ${where}`],
    };
  }
  const admin = adminPortsTouched(rule, policy.adminPorts);
  if (admin.length > 0) {
    const names = admin.slice(0, 5).map((p) => (PORT_NAMES[p] ? `${p} (${PORT_NAMES[p]})` : String(p)));
    const more = admin.length > 5 ? ` and ${admin.length - 5} more` : '';
    const list = `${names.join(', ')}${more}`;
    return {
      severity: 'high',
      reasons: [`admin or data port${admin.length > 1 ? 's' : ''} ${list} open: ${where}`],
    };
  }
  if (isIcmp(rule)) return { severity: 'low', reasons: [`${describePorts(rule)} is open: ${where}`] };
  if (isAllowedPort(rule, policy.allowedPorts)) return null;
  return { severity: 'medium', reasons: [`${describePorts(rule)} is open: ${where}`] };
}

function groupSelected(
  selector: { ids: string[]; tags: Record<string, string> },
  rule: RuleFacts,
  tags: Record<string, string> | null,
): boolean {
  if (selector.ids.includes(rule.groupId)) return true;
  const wanted = Object.entries(selector.tags);
  return tags !== null && wanted.length > 0 && wanted.every(([k, v]) => tags[k] === v);
}

/** Only-from rules: for selected groups, ingress from anything but the named groups is a violation. */
function onlyFromViolations(
  rule: RuleFacts,
  policy: PolicyConfig,
  ctx: EvaluationContext,
): { severity: Severity; reasons: string[] } | null {
  if (rule.direction !== 'ingress') return null;
  const hits = policy.onlyFrom.filter(
    (only) =>
      groupSelected(only.groups, rule, ctx.groupTags) &&
      !(rule.sourceKind === 'security-group' && only.allowedSources.includes(rule.source)),
  );
  if (hits.length === 0) return null;
  const severity = hits.reduce<Severity>(
    (worst, only) => (SEVERITY_RANK[only.severity] > SEVERITY_RANK[worst] ? only.severity : worst),
    'low',
  );
  const reasons = hits.map(
    (only) =>
      `"${only.name}": this group accepts traffic only from ${only.allowedSources.join(', ')}, not from ${rule.source}`,
  );
  return { severity, reasons };
}

/** True when the principal matches one of `policy.exceptions.trustedTaggers` (its own ARN or its role's). */
export function isTrustedTagger(policy: PolicyConfig, setter: Pick<TagSetter, 'arn' | 'roleArn'>): boolean {
  const arns = [setter.arn, setter.roleArn].filter((n): n is string => n?.startsWith('arn:') === true);
  return policy.exceptions.trustedTaggers.some((pattern) =>
    arns.some((arn) => matchesArnPattern(pattern, arn)),
  );
}

/**
 * True for a tag that would take a group out of sg-warden's hands: one of `policy.exceptions.tags`, or
 * `sg-warden:protected` (the roles may not revoke on such a group).
 */
export function isExemptionTag(policy: PolicyConfig, key: string, value: string): boolean {
  if (key === PROTECTED_TAG) return true;
  return policy.exceptions.tags.some((t) => t.key === key && (t.value === undefined || t.value === value));
}

/** True for a tag key whose removal (or change) can end an exemption: what detection watches. */
export function isWatchedTagKey(policy: PolicyConfig, key: string): boolean {
  return key === PROTECTED_TAG || policy.exceptions.tags.some((t) => t.key === key);
}

/**
 * The group's exemption tags and whether each counts: only when its last setter (as recorded) set this
 * very value and is a trusted tagger. `ignored` says, per tag that does not count, why.
 */
export function tagExemptions(
  policy: PolicyConfig,
  tags: Record<string, string> | null,
  setters: Readonly<Record<string, TagSetter>> | null | undefined,
): { exempt: string | null; ignored: string[] } {
  const ignored: string[] = [];
  if (!tags) return { exempt: null, ignored };
  for (const [key, value] of Object.entries(tags)) {
    if (!isExemptionTag(policy, key, value)) continue;
    const setter = setters?.[key];
    if (setter && setter.value === value && isTrustedTagger(policy, setter))
      return { exempt: `group tag ${key}=${value}, set by ${setter.arn}`, ignored: [] };
    const why =
      !setter || setter.value !== value
        ? 'who set it is not on record (set before sg-warden watched tags, or its CloudTrail event has not arrived)'
        : `it was set by ${setter.arn}, which is not a trusted tagger (policy.exceptions.trustedTaggers)`;
    // The roles' IAM still refuses revokes on a protected group, whoever tagged it.
    const iam =
      key === PROTECTED_TAG ? '; while the tag stays, IAM stops sg-warden revoking here: revoke by hand' : '';
    ignored.push(`group tag ${key}=${value} is ignored: ${why}, so it exempts nothing${iam}`);
  }
  return { exempt: null, ignored };
}

/**
 * The exemption that applies to a rule (group ID, group tag set by a trusted tagger, allowed source), or
 * null. Without `setters` no tag exempts.
 */
export function exemptionFor(
  rule: RuleFacts,
  policy: PolicyConfig,
  tags: Record<string, string> | null,
  setters?: Readonly<Record<string, TagSetter>> | null,
): string | null {
  if (policy.exceptions.groupIds.includes(rule.groupId)) return `group ${rule.groupId} is exempt`;
  const byTag = tagExemptions(policy, tags, setters).exempt;
  if (byTag) return byTag;
  if (rule.sourceKind === 'ipv4' || rule.sourceKind === 'ipv6') {
    const source = parseCidr(rule.source);
    if (source) {
      for (const allowed of policy.exceptions.sourceCidrs) {
        const range = parseCidr(allowed);
        if (range && isWithin(source, range)) return `source inside allow-listed ${allowed}`;
      }
    }
  }
  return null;
}

type PrincipalRule = PolicyConfig['principals'][number];

/** The principal that made the call: its own ARN and, for an assumed role, the role's ARN (never a service). */
export function principalArns(actor: Actor): string[] {
  return [actor.arn, actor.roleArn].filter((n): n is string => n?.startsWith('arn:') === true);
}

/** True when every condition the rule gives (principal, invoking service, stack) holds for this call. */
export function principalRuleMatches(
  rule: PrincipalRule,
  actor: Actor,
  groupTags: Record<string, string> | null,
): boolean {
  if (rule.arn === undefined && rule.stack === undefined) return false;
  if (rule.arn !== undefined) {
    const pattern = rule.arn;
    if (!principalArns(actor).some((n) => matchesArnPattern(pattern, n))) return false;
  }
  if (rule.invokedBy !== undefined && actor.invokedBy?.toLowerCase() !== rule.invokedBy.toLowerCase())
    return false;
  if (rule.stack !== undefined) {
    const stack = groupTags?.[STACK_NAME_TAG];
    if (stack === undefined || !matchesArnPattern(rule.stack, stack)) return false;
  }
  return true;
}

/** The first principal rule whose conditions all hold for the call (and the group's stack), or null. */
export function principalRuleFor(
  policy: PolicyConfig,
  actor: Actor | null,
  groupTags: Record<string, string> | null = null,
): PrincipalRule | null {
  if (!actor) return null;
  return policy.principals.find((p) => principalRuleMatches(p, actor, groupTags)) ?? null;
}

/**
 * The entries of a prefix list that the policy counts as the internet (0.0.0.0/0, ::/0, wide public
 * ranges), leaving out entries inside `policy.exceptions.sourceCidrs`: what a rule naming the list opens to.
 */
export function internetEntries(entries: readonly string[], policy: PolicyConfig): string[] {
  return entries.filter((cidr) => {
    const entry: RuleFacts = {
      groupId: '',
      ruleId: null,
      direction: 'ingress',
      protocol: 'all',
      fromPort: null,
      toPort: null,
      source: cidr,
      sourceKind: cidr.includes(':') ? 'ipv6' : 'ipv4',
      description: null,
    };
    return isOpenToInternet(entry) && exemptionFor(entry, policy, null) === null;
  });
}

/** True when the policy says never to revoke findings of this severity. */
export function isDryRun(policy: PolicyConfig, severity: Severity): boolean {
  return typeof policy.dryRun === 'boolean' ? policy.dryRun : policy.dryRun[severity] === true;
}

/**
 * A rule whose source is a prefix list, judged through the list's entries: the worst entry decides, as
 * if the rule named that CIDR, and the reasons name the list. Null when the list is not known or no
 * entry breaks anything (entries inside allow-listed ranges are exempt like any source).
 */
function prefixListBaseline(
  rule: RuleFacts,
  policy: PolicyConfig,
  ctx: EvaluationContext,
): { severity: Severity; reasons: string[] } | null {
  const entries = ctx.prefixLists?.[rule.source];
  if (!entries) return null;
  let worst: { severity: Severity; reasons: string[] } | null = null;
  let flagged = 0;
  for (const cidr of entries) {
    const entry: RuleFacts = { ...rule, source: cidr, sourceKind: cidr.includes(':') ? 'ipv6' : 'ipv4' };
    if (exemptionFor(entry, policy, null)) continue;
    const found = baseline(entry, policy);
    if (!found) continue;
    flagged++;
    if (!worst || SEVERITY_RANK[found.severity] > SEVERITY_RANK[worst.severity]) {
      worst = {
        severity: found.severity,
        reasons: found.reasons.map((r) => `prefix list ${rule.source} holds ${cidr}: ${r}`),
      };
    }
  }
  if (worst && flagged > 1) {
    worst.reasons.push(
      `prefix list ${rule.source} holds ${flagged - 1} more ${flagged > 2 ? 'entries that count' : 'entry that counts'} as the internet`,
    );
  }
  return worst;
}

/** Evaluates one rule against the policy; null when it breaks nothing or is exempt. */
export function evaluateRule(rule: RuleFacts, policy: PolicyConfig, ctx: EvaluationContext): Finding | null {
  if (rule.direction === 'egress' && !policy.evaluateEgress) return null;
  if (exemptionFor(rule, policy, ctx.groupTags, ctx.tagSetters)) return null;

  const fromBaseline =
    rule.sourceKind === 'prefix-list' ? prefixListBaseline(rule, policy, ctx) : baseline(rule, policy);
  const fromOnly = onlyFromViolations(rule, policy, ctx);
  if (!fromBaseline && !fromOnly) return null;
  const severity =
    fromBaseline && fromOnly
      ? SEVERITY_RANK[fromBaseline.severity] >= SEVERITY_RANK[fromOnly.severity]
        ? fromBaseline.severity
        : fromOnly.severity
      : (fromBaseline?.severity ?? fromOnly!.severity);
  const reasons = [
    ...(fromBaseline?.reasons ?? []),
    ...(fromOnly?.reasons ?? []),
    // An exemption tag that did not count is said, so nobody believes the group exempt.
    ...tagExemptions(policy, ctx.groupTags, ctx.tagSetters).ignored,
  ];

  let timeoutSeconds = policy.timeouts[severity];
  let action: Finding['action'] = timeoutSeconds === null ? 'notify' : 'alert';
  const principalRule = principalRuleFor(policy, ctx.actor, ctx.groupTags);
  if (principalRule) {
    const marks = principalRule.action === 'ignore' ? 'ignored' : 'notify-only';
    const why = principalRule.reason ? ` (${principalRule.reason})` : '';
    if (severity === 'critical' && !principalRule.allowCritical) {
      // A pipeline exemption must not quietly cover the worst findings: that takes allowCritical.
      reasons.push(
        `made by ${ctx.actor?.arn}, which the policy marks ${marks}${why}, but not for critical findings (the rule does not set allowCritical)`,
      );
    } else {
      if (principalRule.action === 'ignore') return null;
      action = 'notify';
      timeoutSeconds = null;
      reasons.push(`made by ${ctx.actor?.arn}, which the policy marks notify-only${why}`);
    }
  }
  return { rule, severity, reasons, action, timeoutSeconds, dryRun: isDryRun(policy, severity) };
}

/** Evaluates every rule; returns the findings, most severe first. */
export function evaluate(
  rules: readonly RuleFacts[],
  policy: PolicyConfig,
  ctx: EvaluationContext,
): Finding[] {
  return rules
    .map((rule) => evaluateRule(rule, policy, ctx))
    .filter((f): f is Finding => f !== null)
    .sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]);
}
