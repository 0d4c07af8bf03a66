import type { PolicyConfig } from '../config/config';
import { isInternetCidr, isWithin, parseCidr } from '../shared/cidr';
import type { Actor, Finding, RuleFacts, Severity } from '../shared/model';

/** What evaluation knows besides the rule itself; every field is data, nothing is looked up here. */
export interface EvaluationContext {
  actor: Actor | null;
  /** The group's tags, or null when they are not known (offline evaluation). */
  groupTags: Record<string, string> | null;
}

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

/** Glob match where `*` stands for any run of characters (ARN patterns). */
export function matchesPattern(pattern: string, value: string): boolean {
  let regex = compiledPatterns.get(pattern);
  if (!regex) {
    const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
    regex = new RegExp(`^${escaped}$`);
    compiledPatterns.set(pattern, regex);
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

/** The exemption that applies to a rule (group ID, group tag, allowed source), or null. */
export function exemptionFor(
  rule: RuleFacts,
  policy: PolicyConfig,
  tags: Record<string, string> | null,
): string | null {
  if (policy.exceptions.groupIds.includes(rule.groupId)) return `group ${rule.groupId} is exempt`;
  if (tags) {
    for (const t of policy.exceptions.tags) {
      const value = tags[t.key];
      if (value !== undefined && (t.value === undefined || t.value === value))
        return `group tag ${t.key}=${value}`;
    }
  }
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

/** The principal rule that matches the caller (ARN, role ARN or invoking service), or null. */
export function principalRuleFor(
  policy: PolicyConfig,
  actor: Actor | null,
): PolicyConfig['principals'][number] | null {
  if (!actor) return null;
  const names = [actor.arn, actor.roleArn, actor.invokedBy].filter((n): n is string => n !== null);
  return policy.principals.find((p) => names.some((n) => matchesPattern(p.arn, n))) ?? null;
}

/** True when the policy says never to revoke findings of this severity. */
export function isDryRun(policy: PolicyConfig, severity: Severity): boolean {
  return typeof policy.dryRun === 'boolean' ? policy.dryRun : policy.dryRun[severity] === true;
}

/** Evaluates one rule against the policy; null when it breaks nothing or is exempt. */
export function evaluateRule(rule: RuleFacts, policy: PolicyConfig, ctx: EvaluationContext): Finding | null {
  if (rule.direction === 'egress' && !policy.evaluateEgress) return null;
  const principalRule = principalRuleFor(policy, ctx.actor);
  if (principalRule?.action === 'ignore') return null;
  if (exemptionFor(rule, policy, ctx.groupTags)) return null;

  const fromBaseline = baseline(rule, policy);
  const fromOnly = onlyFromViolations(rule, policy, ctx);
  if (!fromBaseline && !fromOnly) return null;
  const severity =
    fromBaseline && fromOnly
      ? SEVERITY_RANK[fromBaseline.severity] >= SEVERITY_RANK[fromOnly.severity]
        ? fromBaseline.severity
        : fromOnly.severity
      : (fromBaseline?.severity ?? fromOnly!.severity);
  const reasons = [...(fromBaseline?.reasons ?? []), ...(fromOnly?.reasons ?? [])];

  let timeoutSeconds = policy.timeouts[severity];
  let action: Finding['action'] = timeoutSeconds === null ? 'notify' : 'alert';
  if (principalRule?.action === 'notify') {
    action = 'notify';
    timeoutSeconds = null;
    reasons.push(
      `made by ${ctx.actor?.arn}, which the policy marks notify-only${principalRule.reason ? ` (${principalRule.reason})` : ''}`,
    );
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
