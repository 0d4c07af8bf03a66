import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type PolicyConfig, validateConfig } from '../../../../services/config/config';
import { PROTECTED_TAG } from '../../../../services/deploy/iam';
import { decodeJson, parseCloudTrail } from '../../../../services/detection/cloudtrail';
import {
  adminPortsTouched,
  describePorts,
  describeRule,
  type EvaluationContext,
  evaluate,
  evaluateRule,
  exemptionFor,
  internetEntries,
  isAllowedPort,
  isAllProtocols,
  isDryRun,
  isIcmp,
  isOpenToInternet,
  isWholePortRange,
  matchesPattern,
  principalRuleFor,
  type TagSetter,
} from '../../../../services/detection/policy';
import type { Actor, Finding, RuleFacts, Severity } from '../../../../services/shared/model';

const repoRoot = join(__dirname, '..', '..', '..', '..');
const GROUP = 'sg-0123456789abcdef0';
const ALB_GROUP = 'sg-0fedcba9876543210';
const OTHER_GROUP = 'sg-0aaaaaaaaaaaaaaaa';

/** A rule under test: ingress TCP 443 from the whole IPv4 internet (allowed) unless overridden. */
function rule(overrides: Partial<RuleFacts> = {}): RuleFacts {
  return {
    groupId: GROUP,
    ruleId: 'sgr-0123456789abcdef0',
    direction: 'ingress',
    protocol: 'tcp',
    fromPort: 443,
    toPort: 443,
    source: '0.0.0.0/0',
    sourceKind: 'ipv4',
    description: null,
    ...overrides,
  };
}

/** Shorthand for a single TCP/UDP port. */
function port(p: number): Pick<RuleFacts, 'fromPort' | 'toPort'> {
  return { fromPort: p, toPort: p };
}

function actor(overrides: Partial<Actor> = {}): Actor {
  return {
    arn: 'arn:aws:iam::111122223333:user/alice',
    type: 'IAMUser',
    roleArn: null,
    invokedBy: null,
    sourceIp: '198.51.100.1',
    userAgent: 'aws-cli/2.22.4',
    ...overrides,
  };
}

/** The trusted tagger of these tests: a role, and one of its sessions (a setter matches by either ARN). */
const NETWORK_ADMIN = 'arn:aws:iam::123456789012:role/network-admins';
const NETWORK_ADMIN_SESSION = 'arn:aws:sts::123456789012:assumed-role/network-admins/ana@example.com';

/** A tag's setter as sg-warden records it; an assumed-role session carries its role's ARN. */
function setBy(arn: string, value: string): TagSetter {
  const role = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\//.exec(arn);
  return { value, arn, roleArn: role ? `arn:aws:iam::${role[1]}:role/${role[2]}` : null };
}

function context(overrides: Partial<EvaluationContext> = {}): EvaluationContext {
  return { actor: actor(), groupTags: {}, ...overrides };
}

/** A validated policy: the defaults plus these overrides, exactly as a config file would give it. */
function policy(overrides: Record<string, unknown> = {}): PolicyConfig {
  return validateConfig({ slack: { alertChannel: 'C0TEST' }, policy: overrides }, 'test').policy;
}

const DEFAULT_POLICY = policy();

function severityOf(r: RuleFacts, p: PolicyConfig = DEFAULT_POLICY, ctx: EvaluationContext = context()) {
  return evaluateRule(r, p, ctx)?.severity ?? null;
}

function expectPlainEnglish(reasons: readonly string[]): void {
  expect(reasons.length).toBeGreaterThan(0);
  for (const reason of reasons) {
    expect(reason.length).toBeGreaterThan(10);
    expect(reason).not.toMatch(/undefined|null|NaN|\[object|[{}]/);
  }
}

const CIS_AND_EXTRA_ADMIN_PORTS = [
  20, 21, 22, 23, 25, 110, 135, 139, 143, 445, 1433, 1434, 1521, 2049, 2375, 2376, 3000, 3306, 3389, 4333,
  5000, 5432, 5500, 5601, 5900, 6379, 8080, 8088, 8888, 9092, 9200, 9300, 11211, 27017, 27018,
];

describe('policy', () => {
  describe('severity matrix (default baseline, source 0.0.0.0/0)', () => {
    it.each<[string, Partial<RuleFacts>, Severity | null]>([
      ['all protocols', { protocol: 'all', fromPort: null, toPort: null }, 'critical'],
      [
        'all protocols from ::/0',
        { protocol: 'all', fromPort: null, toPort: null, source: '::/0', sourceKind: 'ipv6' },
        'critical',
      ],
      ['TCP 0-65535', { fromPort: 0, toPort: 65535 }, 'critical'],
      ['UDP 0-65535', { protocol: 'udp', fromPort: 0, toPort: 65535 }, 'critical'],
      ['TCP with no ports (all)', { fromPort: null, toPort: null }, 'critical'],
      ['TCP 22', port(22), 'high'],
      ['TCP 3389', port(3389), 'high'],
      ['TCP 20-25', { fromPort: 20, toPort: 25 }, 'high'],
      ['TCP 1000-2000 (holds 1433, 1434, 1521)', { fromPort: 1000, toPort: 2000 }, 'high'],
      ['TCP 1-65535 (not whole, holds admin ports)', { fromPort: 1, toPort: 65535 }, 'high'],
      ['UDP 11211', { protocol: 'udp', ...port(11211) }, 'high'],
      ['TCP 80-443 (holds 110, 135, 139, 143)', { fromPort: 80, toPort: 443 }, 'high'],
      ['TCP 6379 from ::/0', { ...port(6379), source: '::/0', sourceKind: 'ipv6' }, 'high'],
      ['TCP 8443', port(8443), 'medium'],
      ['TCP 444', port(444), 'medium'],
      ['TCP 81', port(81), 'medium'],
      ['TCP 8000-8079 (stops short of 8080)', { fromPort: 8000, toPort: 8079 }, 'medium'],
      ['UDP 53', { protocol: 'udp', ...port(53) }, 'medium'],
      ['UDP 443 (only TCP 443 is allowed)', { protocol: 'udp', ...port(443) }, 'medium'],
      ['protocol 47 (GRE)', { protocol: '47', fromPort: null, toPort: null }, 'medium'],
      ['TCP 80', port(80), null],
      ['TCP 443', port(443), null],
      ['TCP 443 from ::/0', { ...port(443), source: '::/0', sourceKind: 'ipv6' }, null],
      ['ICMP all types', { protocol: 'icmp', fromPort: null, toPort: null }, 'low'],
      ['ICMP echo request', { protocol: 'icmp', fromPort: 8, toPort: null }, 'low'],
      [
        'ICMPv6 from ::/0',
        { protocol: 'icmpv6', fromPort: null, toPort: null, source: '::/0', sourceKind: 'ipv6' },
        'low',
      ],
    ])('rates %s as %p', (_name, overrides, expected) => {
      const finding = evaluateRule(rule(overrides), DEFAULT_POLICY, context());

      expect(finding?.severity ?? null).toBe(expected);
      if (finding) expectPlainEnglish(finding.reasons);
    });

    it.each(CIS_AND_EXTRA_ADMIN_PORTS)('rates TCP %p open to the internet as high', (p) => {
      const finding = evaluateRule(rule(port(p)), DEFAULT_POLICY, context());

      expect(finding?.severity).toBe('high');
      expect(finding?.reasons[0]).toContain(String(p));
    });

    it('holds exactly the 35 default admin ports', () => {
      expect([...DEFAULT_POLICY.adminPorts].sort((a, b) => a - b)).toEqual(CIS_AND_EXTRA_ADMIN_PORTS);
    });

    it('uses the configured admin ports instead of the defaults', () => {
      const custom = policy({ adminPorts: [8443] });

      expect(severityOf(rule(port(8443)), custom)).toBe('high');
      expect(severityOf(rule(port(22)), custom)).toBe('medium');
    });

    it('uses the configured allowed ports instead of the defaults', () => {
      const custom = policy({ allowedPorts: [{ protocol: 'udp', port: 53 }] });

      expect(severityOf(rule({ protocol: 'udp', ...port(53) }), custom)).toBeNull();
      expect(severityOf(rule(port(443)), custom)).toBe('medium');
    });

    it('explains a critical all-protocol rule in words', () => {
      const finding = evaluateRule(
        rule({ protocol: 'all', fromPort: null, toPort: null }),
        DEFAULT_POLICY,
        context(),
      );

      expect(finding?.reasons).toEqual(['all protocols and ports are open: 0.0.0.0/0 is the whole internet']);
    });

    it('explains a whole TCP range in words', () => {
      const finding = evaluateRule(rule({ fromPort: 0, toPort: 65535 }), DEFAULT_POLICY, context());

      expect(finding?.reasons).toEqual(['every TCP port (0–65535) is open: 0.0.0.0/0 is the whole internet']);
    });

    it('names the admin port and its service', () => {
      const finding = evaluateRule(rule(port(22)), DEFAULT_POLICY, context());

      expect(finding?.reasons).toEqual(['admin or data port 22 (SSH) open: 0.0.0.0/0 is the whole internet']);
    });

    it('lists the first five admin ports of a wide range and counts the rest', () => {
      const finding = evaluateRule(rule({ fromPort: 20, toPort: 3389 }), DEFAULT_POLICY, context());

      expect(finding?.reasons).toEqual([
        'admin or data ports 20 (FTP data), 21 (FTP), 22 (SSH), 23 (Telnet), 25 (SMTP) and 14 more open: 0.0.0.0/0 is the whole internet',
      ]);
    });

    it('calls a wide public range the internet in its reason', () => {
      const finding = evaluateRule(rule({ ...port(8443), source: '11.0.0.0/8' }), DEFAULT_POLICY, context());

      expect(finding?.reasons).toEqual([
        'TCP 8443 is open: 11.0.0.0/8 is a wide public range, which counts as the internet',
      ]);
    });

    it('calls any /0 the whole internet, even written with host bits', () => {
      const finding = evaluateRule(
        rule({ ...port(22), source: '208.236.235.254/0' }),
        DEFAULT_POLICY,
        context(),
      );

      expect(finding?.severity).toBe('high');
      expect(finding?.reasons).toEqual([
        'admin or data port 22 (SSH) open: 208.236.235.254/0 is the whole internet',
      ]);
    });
  });

  describe('what counts as the internet', () => {
    it.each<[string, RuleFacts['sourceKind'], boolean]>([
      ['0.0.0.0/0', 'ipv4', true],
      ['::/0', 'ipv6', true],
      ['208.236.235.254/0', 'ipv4', true],
      ['11.0.0.0/8', 'ipv4', true],
      ['0.0.0.0/1', 'ipv4', true],
      ['128.0.0.0/2', 'ipv4', true],
      ['2600::/16', 'ipv6', true],
      ['2000::/3', 'ipv6', true],
      ['10.0.0.0/8', 'ipv4', false],
      ['10.0.0.0/16', 'ipv4', false],
      ['127.0.0.0/8', 'ipv4', false],
      ['1.2.3.4/32', 'ipv4', false],
      ['12.0.0.0/9', 'ipv4', false],
      ['224.0.0.0/4', 'ipv4', false],
      ['240.0.0.0/4', 'ipv4', false],
      ['224.0.0.0/3', 'ipv4', false],
      ['2001:db8::/32', 'ipv6', false],
      ['fc00::/7', 'ipv6', false],
      ['fe80::/10', 'ipv6', false],
      ['ff00::/8', 'ipv6', false],
      ['2600:1f18::/36', 'ipv6', false],
      ['not-a-cidr', 'ipv4', false],
    ])('treats %s (%s) as internet: %p', (source, sourceKind, expected) => {
      expect(isOpenToInternet(rule({ source, sourceKind }))).toBe(expected);
    });

    it('never treats a referenced security group or a prefix list as the internet', () => {
      expect(isOpenToInternet(rule({ source: ALB_GROUP, sourceKind: 'security-group' }))).toBe(false);
      expect(isOpenToInternet(rule({ source: 'pl-0123abcd4567ef890', sourceKind: 'prefix-list' }))).toBe(
        false,
      );
    });

    it('raises nothing for SSH from a private range, a narrow range, a group or a prefix list', () => {
      const sources: Partial<RuleFacts>[] = [
        { source: '10.0.0.0/8' },
        { source: '1.2.3.4/32' },
        { source: '224.0.0.0/4' },
        { source: 'fc00::/7', sourceKind: 'ipv6' },
        { source: '2001:db8::/32', sourceKind: 'ipv6' },
        { source: ALB_GROUP, sourceKind: 'security-group' },
        { source: 'pl-0123abcd4567ef890', sourceKind: 'prefix-list' },
      ];

      const findings = evaluate(
        sources.map((s) => rule({ ...port(22), ...s })),
        DEFAULT_POLICY,
        context(),
      );

      expect(findings).toEqual([]);
    });
  });

  describe('egress', () => {
    it('ignores egress rules by default', () => {
      expect(
        severityOf(rule({ direction: 'egress', protocol: 'all', fromPort: null, toPort: null })),
      ).toBeNull();
    });

    it('evaluates egress rules when the policy switches it on', () => {
      const withEgress = policy({ evaluateEgress: true });

      expect(
        severityOf(rule({ direction: 'egress', protocol: 'all', fromPort: null, toPort: null }), withEgress),
      ).toBe('critical');
      expect(severityOf(rule({ direction: 'egress', ...port(22) }), withEgress)).toBe('high');
    });
  });

  describe('exceptions', () => {
    const ssh = rule(port(22));

    it('exempts a group by ID and no other', () => {
      const p = policy({ exceptions: { groupIds: [GROUP] } });

      expect(evaluateRule(ssh, p, context())).toBeNull();
      expect(severityOf(rule({ ...port(22), groupId: OTHER_GROUP }), p)).toBe('high');
      expect(exemptionFor(ssh, p, {})).toBe(`group ${GROUP} is exempt`);
    });

    it('exempts a group carrying the tag key, whatever its value, when a trusted tagger set it', () => {
      const p = policy({
        exceptions: { tags: [{ key: 'sg-warden:exempt' }], trustedTaggers: [NETWORK_ADMIN] },
      });
      const tagged = (value: string) =>
        context({
          groupTags: { 'sg-warden:exempt': value },
          tagSetters: { 'sg-warden:exempt': setBy(NETWORK_ADMIN_SESSION, value) },
        });

      expect(evaluateRule(ssh, p, tagged('load test until Friday'))).toBeNull();
      expect(evaluateRule(ssh, p, tagged(''))).toBeNull();
      expect(severityOf(ssh, p, context({ groupTags: { team: 'payments' } }))).toBe('high');
      expect(
        exemptionFor(
          ssh,
          p,
          { 'sg-warden:exempt': 'load test' },
          { 'sg-warden:exempt': setBy(NETWORK_ADMIN_SESSION, 'load test') },
        ),
      ).toBe(`group tag sg-warden:exempt=load test, set by ${NETWORK_ADMIN_SESSION}`);
    });

    it('exempts a group by tag key and value only when the value matches', () => {
      const p = policy({
        exceptions: { tags: [{ key: 'env', value: 'sandbox' }], trustedTaggers: [NETWORK_ADMIN] },
      });
      const tagged = (value: string) =>
        context({ groupTags: { env: value }, tagSetters: { env: setBy(NETWORK_ADMIN_SESSION, value) } });

      expect(evaluateRule(ssh, p, tagged('sandbox'))).toBeNull();
      expect(severityOf(ssh, p, tagged('prod'))).toBe('high');
    });

    it('ignores an exemption tag whose setter is not trusted, not on record, or set another value, and says why', () => {
      const p = policy({
        exceptions: { tags: [{ key: 'sg-warden:exempt' }], trustedTaggers: [NETWORK_ADMIN] },
      });
      const tags = { 'sg-warden:exempt': 'yes' };
      const eve = 'arn:aws:sts::123456789012:assumed-role/developer/eve@example.com';

      const untrusted = evaluateRule(
        ssh,
        p,
        context({ groupTags: tags, tagSetters: { 'sg-warden:exempt': setBy(eve, 'yes') } }),
      );
      const unrecorded = evaluateRule(ssh, p, context({ groupTags: tags }));
      const otherValue = evaluateRule(
        ssh,
        p,
        context({ groupTags: tags, tagSetters: { 'sg-warden:exempt': setBy(NETWORK_ADMIN_SESSION, 'no') } }),
      );

      expect(untrusted?.severity).toBe('high');
      expect(untrusted?.reasons).toContain(
        `group tag sg-warden:exempt=yes is ignored: it was set by ${eve}, which is not a trusted tagger (policy.exceptions.trustedTaggers), so it exempts nothing`,
      );
      expect(unrecorded?.reasons.at(-1)).toMatch(
        /^group tag sg-warden:exempt=yes is ignored: who set it is not on record/,
      );
      expect(otherValue?.reasons.at(-1)).toMatch(
        /^group tag sg-warden:exempt=yes is ignored: who set it is not on record/,
      );
      expect(exemptionFor(ssh, p, tags)).toBeNull();
    });

    it('treats sg-warden:protected like an exemption tag: only a trusted tagger’s takes the group out of sg-warden’s hands', () => {
      const p = policy({ exceptions: { trustedTaggers: [NETWORK_ADMIN] } });
      const tags = { [PROTECTED_TAG]: 'true' };

      expect(
        evaluateRule(
          ssh,
          p,
          context({ groupTags: tags, tagSetters: { [PROTECTED_TAG]: setBy(NETWORK_ADMIN_SESSION, 'true') } }),
        ),
      ).toBeNull();
      const untrusted = evaluateRule(ssh, p, context({ groupTags: tags }));
      expect(untrusted?.severity).toBe('high');
      expect(untrusted?.reasons.at(-1)).toContain('while the tag stays, IAM stops sg-warden revoking here');
    });

    it('counts a prefix-list entry as the internet as a rule source would be, allow-listed ranges aside', () => {
      const p = policy({ exceptions: { sourceCidrs: ['203.0.113.0/24'] } });

      expect(
        internetEntries(['10.0.0.0/8', '0.0.0.0/0', '::/0', '203.0.113.0/24', '198.51.100.7/32'], p),
      ).toEqual(['0.0.0.0/0', '::/0']);
    });

    it('cannot exempt by tag when the tags are unknown (offline evaluation)', () => {
      const p = policy({ exceptions: { tags: [{ key: 'sg-warden:exempt' }] } });

      expect(severityOf(ssh, p, context({ groupTags: null }))).toBe('high');
    });

    it('exempts a source inside an allow-listed CIDR, IPv4 or IPv6', () => {
      const p = policy({ exceptions: { sourceCidrs: ['11.0.0.0/8', '2600::/12'] } });

      expect(evaluateRule(rule({ ...port(22), source: '11.0.0.0/8' }), p, context())).toBeNull();
      expect(
        evaluateRule(rule({ ...port(22), source: '2600::/16', sourceKind: 'ipv6' }), p, context()),
      ).toBeNull();
      expect(exemptionFor(rule({ source: '11.0.0.0/8' }), p, {})).toBe(
        'source inside allow-listed 11.0.0.0/8',
      );
    });

    it('does not exempt a source wider than the allow-listed CIDR', () => {
      const p = policy({ exceptions: { sourceCidrs: ['11.0.0.0/8'] } });

      expect(severityOf(rule({ ...port(22), source: '0.0.0.0/0' }), p)).toBe('high');
      expect(exemptionFor(rule({ source: '0.0.0.0/0' }), p, {})).toBeNull();
    });

    it('never exempts a security-group source by CIDR', () => {
      const p = policy({ exceptions: { sourceCidrs: ['0.0.0.0/0'] } });

      expect(exemptionFor(rule({ source: ALB_GROUP, sourceKind: 'security-group' }), p, {})).toBeNull();
    });
  });

  describe('principals (pipelines are not intruders)', () => {
    const ssh = rule(port(22));
    const ciDeploy = actor({
      arn: 'arn:aws:sts::111122223333:assumed-role/payments-ci-deploy/GitHubActions',
      type: 'AssumedRole',
      roleArn: 'arn:aws:iam::111122223333:role/payments-ci-deploy',
    });
    const cloudFormation = actor({
      arn: 'arn:aws:sts::111122223333:assumed-role/PlatformEngineer/bob',
      type: 'AssumedRole',
      roleArn: 'arn:aws:iam::111122223333:role/PlatformEngineer',
      invokedBy: 'cloudformation.amazonaws.com',
    });

    it('ignores a change by a principal marked ignore, matched on the role ARN of an assumed role', () => {
      const p = policy({ principals: [{ arn: 'arn:aws:iam::*:role/*-ci-deploy', action: 'ignore' }] });

      expect(evaluateRule(ssh, p, context({ actor: ciDeploy }))).toBeNull();
      expect(severityOf(ssh, p, context({ actor: actor() }))).toBe('high');
    });

    it('makes a change by a notify principal notify-only, with no timeout and the reason given', () => {
      const p = policy({
        principals: [
          { arn: 'arn:aws:iam::*:role/*-ci-deploy', action: 'notify', reason: 'CI/CD deploy role' },
        ],
      });

      const finding = evaluateRule(ssh, p, context({ actor: ciDeploy }));

      expect(finding).toMatchObject({ severity: 'high', action: 'notify', timeoutSeconds: null });
      expect(finding?.reasons).toHaveLength(2);
      expect(finding?.reasons[1]).toBe(
        'made by arn:aws:sts::111122223333:assumed-role/payments-ci-deploy/GitHubActions, which the policy marks notify-only (CI/CD deploy role)',
      );
    });

    it('case 3: matches CloudFormation by invokedBy only together with the principal that made the call', () => {
      const p = policy({
        principals: [
          {
            arn: 'arn:aws:iam::111122223333:role/PlatformEngineer',
            invokedBy: 'cloudformation.amazonaws.com',
            action: 'notify',
          },
        ],
      });

      const finding = evaluateRule(ssh, p, context({ actor: cloudFormation }));

      expect(finding?.action).toBe('notify');
      expect(finding?.timeoutSeconds).toBeNull();
      expect(finding?.reasons[1]).toMatch(/notify-only$/);
      // The same principal by hand, or another engineer through CloudFormation: alerts as usual.
      const byHand = actor({ ...cloudFormation, invokedBy: null });
      const otherEngineer = actor({
        arn: 'arn:aws:sts::111122223333:assumed-role/Developer/eve',
        type: 'AssumedRole',
        roleArn: 'arn:aws:iam::111122223333:role/Developer',
        invokedBy: 'cloudformation.amazonaws.com',
      });
      expect(evaluateRule(ssh, p, context({ actor: byHand }))?.action).toBe('alert');
      expect(evaluateRule(ssh, p, context({ actor: otherEngineer }))?.action).toBe('alert');
    });

    it('alerts as usual for a caller no principal rule matches, or an unknown caller', () => {
      const p = policy({
        principals: [
          {
            arn: 'arn:aws:iam::*:role/PlatformEngineer',
            invokedBy: 'cloudformation.amazonaws.com',
            action: 'ignore',
          },
        ],
      });

      expect(evaluateRule(ssh, p, context({ actor: ciDeploy }))).toMatchObject({
        action: 'alert',
        timeoutSeconds: 900,
      });
      expect(evaluateRule(ssh, p, context({ actor: null }))).toMatchObject({ action: 'alert' });
    });

    it('uses the first principal rule that matches', () => {
      const p = policy({
        principals: [
          { arn: 'arn:aws:iam::*:role/*', action: 'notify' },
          { arn: 'arn:aws:iam::*:role/*-ci-deploy', action: 'ignore' },
        ],
      });

      expect(principalRuleFor(p, ciDeploy)?.action).toBe('notify');
      expect(principalRuleFor(p, actor())).toBeNull();
      expect(principalRuleFor(p, null)).toBeNull();
    });
  });

  describe('matchesPattern', () => {
    it.each<[string, string, boolean]>([
      ['arn:aws:iam::*:role/*-ci-deploy', 'arn:aws:iam::111122223333:role/payments-ci-deploy', true],
      ['arn:aws:iam::*:role/*-ci-deploy', 'arn:aws:iam::111122223333:role/payments-ci-deploy-old', false],
      ['arn:aws:iam::*:role/ci', 'arn:aws:iam::111122223333:role/ci-deploy', false],
      ['cloudformation.amazonaws.com', 'cloudformation.amazonaws.com', true],
      ['cloudformation.amazonaws.com', 'cloudformationXamazonaws.com', false],
      ['arn:aws:iam::(1)+:role/x', 'arn:aws:iam::(1)+:role/x', true],
      ['*', 'anything at all', true],
    ])('matches %s against %s: %p', (pattern, value, expected) => {
      expect(matchesPattern(pattern, value)).toBe(expected);
    });
  });

  describe('only-from rules', () => {
    const behindAlb = (overrides: Record<string, unknown> = {}) => ({
      name: 'behind-alb',
      groups: { ids: [GROUP] },
      allowedSources: [ALB_GROUP],
      severity: 'high',
      ...overrides,
    });
    const app = (overrides: Partial<RuleFacts> = {}) => rule({ ...port(8080), ...overrides });

    it('lets the named source group through', () => {
      const p = policy({ onlyFrom: [behindAlb()] });

      expect(evaluateRule(app({ source: ALB_GROUP, sourceKind: 'security-group' }), p, context())).toBeNull();
    });

    it('raises any other source group, private range or prefix list at the configured severity', () => {
      const p = policy({ onlyFrom: [behindAlb({ severity: 'medium' })] });
      const others: Partial<RuleFacts>[] = [
        { source: OTHER_GROUP, sourceKind: 'security-group' },
        { source: '10.0.0.0/16' },
        { source: 'pl-0123abcd4567ef890', sourceKind: 'prefix-list' },
      ];

      const findings = others.map((o) => evaluateRule(app(o), p, context()));

      expect(findings.map((f) => f?.severity)).toEqual(['medium', 'medium', 'medium']);
      expect(findings[0]?.reasons).toEqual([
        `"behind-alb": this group accepts traffic only from ${ALB_GROUP}, not from ${OTHER_GROUP}`,
      ]);
      expect(findings[1]?.timeoutSeconds).toBe(3600);
    });

    it('leaves groups it does not select alone', () => {
      const p = policy({ onlyFrom: [behindAlb()] });

      expect(
        evaluateRule(
          app({ groupId: OTHER_GROUP, source: OTHER_GROUP, sourceKind: 'security-group' }),
          p,
          context(),
        ),
      ).toBeNull();
    });

    it('selects groups by tag when the tags are known', () => {
      const p = policy({ onlyFrom: [behindAlb({ groups: { tags: { tier: 'private' } } })] });
      const fromOther = app({ source: OTHER_GROUP, sourceKind: 'security-group' });

      expect(severityOf(fromOther, p, context({ groupTags: { tier: 'private', team: 'payments' } }))).toBe(
        'high',
      );
      expect(severityOf(fromOther, p, context({ groupTags: { tier: 'public' } }))).toBeNull();
      expect(severityOf(fromOther, p, context({ groupTags: null }))).toBeNull();
    });

    it('keeps the higher baseline severity and both reasons when the rule also opens an admin port', () => {
      const p = policy({ onlyFrom: [behindAlb({ severity: 'medium' })] });

      const finding = evaluateRule(rule(port(22)), p, context());

      expect(finding?.severity).toBe('high');
      expect(finding?.reasons).toEqual([
        'admin or data port 22 (SSH) open: 0.0.0.0/0 is the whole internet',
        `"behind-alb": this group accepts traffic only from ${ALB_GROUP}, not from 0.0.0.0/0`,
      ]);
    });

    it('takes the only-from severity when it is higher than the baseline', () => {
      const p = policy({ onlyFrom: [behindAlb({ severity: 'critical' })] });

      const finding = evaluateRule(rule(port(22)), p, context());

      expect(finding?.severity).toBe('critical');
      expect(finding?.reasons).toHaveLength(2);
      expect(finding?.timeoutSeconds).toBe(300);
    });

    it('raises a source the baseline allows (TCP 443 from the internet)', () => {
      const p = policy({ onlyFrom: [behindAlb({ severity: 'low' })] });

      const finding = evaluateRule(rule(port(443)), p, context());

      expect(finding?.severity).toBe('low');
      expect(finding?.reasons).toHaveLength(1);
      expect(finding?.action).toBe('notify');
    });

    it('reports every only-from rule that is broken, at the worst severity', () => {
      const p = policy({
        onlyFrom: [behindAlb({ severity: 'low' }), behindAlb({ name: 'pci-zone', severity: 'critical' })],
      });

      const finding = evaluateRule(app({ source: '10.1.0.0/16' }), p, context());

      expect(finding?.severity).toBe('critical');
      expect(finding?.reasons.map((r) => r.split(':')[0])).toEqual(['"behind-alb"', '"pci-zone"']);
    });

    it('does not apply to egress rules', () => {
      const p = policy({ evaluateEgress: true, onlyFrom: [behindAlb()] });

      expect(evaluateRule(app({ direction: 'egress', source: '10.1.0.0/16' }), p, context())).toBeNull();
    });

    it('gives way to an allow-listed source CIDR', () => {
      const p = policy({ onlyFrom: [behindAlb()], exceptions: { sourceCidrs: ['10.0.0.0/8'] } });

      expect(evaluateRule(app({ source: '10.1.0.0/16' }), p, context())).toBeNull();
    });
  });

  describe('timeouts and actions', () => {
    const bySeverity: Record<Severity, RuleFacts> = {
      critical: rule({ protocol: 'all', fromPort: null, toPort: null }),
      high: rule(port(22)),
      medium: rule(port(8443)),
      low: rule({ protocol: 'icmp', fromPort: null, toPort: null }),
    };

    it('uses the default timeouts: 5, 15 and 60 minutes, low notify-only', () => {
      const results = Object.values(bySeverity).map((r) => evaluateRule(r, DEFAULT_POLICY, context()));

      expect(results.map((f) => [f?.severity, f?.timeoutSeconds, f?.action])).toEqual([
        ['critical', 300, 'alert'],
        ['high', 900, 'alert'],
        ['medium', 3600, 'alert'],
        ['low', null, 'notify'],
      ]);
    });

    it('uses the timeouts from the config, a null one making that severity notify-only', () => {
      const p = policy({ timeouts: { critical: '1m', high: '2h', medium: null, low: '1d' } });

      const results = Object.values(bySeverity).map((r) => evaluateRule(r, p, context()));

      expect(results.map((f) => [f?.timeoutSeconds, f?.action])).toEqual([
        [60, 'alert'],
        [7200, 'alert'],
        [null, 'notify'],
        [86400, 'alert'],
      ]);
    });
  });

  describe('dry run', () => {
    const critical = rule({ protocol: 'all', fromPort: null, toPort: null });
    const high = rule(port(22));

    it('is off by default', () => {
      expect(evaluateRule(critical, DEFAULT_POLICY, context())?.dryRun).toBe(false);
    });

    it('marks every finding when switched on globally, keeping alert and timeout', () => {
      const p = policy({ dryRun: true });

      const findings = evaluate([critical, high], p, context());

      expect(findings.map((f) => [f.dryRun, f.action, f.timeoutSeconds])).toEqual([
        [true, 'alert', 300],
        [true, 'alert', 900],
      ]);
    });

    it('marks only the severities named when given per severity', () => {
      const p = policy({ dryRun: { high: true } });

      expect(evaluateRule(high, p, context())?.dryRun).toBe(true);
      expect(evaluateRule(critical, p, context())?.dryRun).toBe(false);
      expect(isDryRun(p, 'medium')).toBe(false);
    });
  });

  describe('evaluate', () => {
    it('returns the findings most severe first and leaves out allowed rules', () => {
      const rules = [
        rule({ ...port(8443), ruleId: 'sgr-medium' }),
        rule({ protocol: 'icmp', fromPort: null, toPort: null, ruleId: 'sgr-low' }),
        rule({ ...port(443), ruleId: 'sgr-allowed' }),
        rule({ protocol: 'all', fromPort: null, toPort: null, ruleId: 'sgr-critical' }),
        rule({ ...port(22), ruleId: 'sgr-high' }),
      ];

      const findings = evaluate(rules, DEFAULT_POLICY, context());

      expect(findings.map((f) => [f.severity, f.rule.ruleId])).toEqual([
        ['critical', 'sgr-critical'],
        ['high', 'sgr-high'],
        ['medium', 'sgr-medium'],
        ['low', 'sgr-low'],
      ]);
    });

    it('keeps the input order among findings of the same severity', () => {
      const rules = ['sgr-a', 'sgr-b', 'sgr-c'].map((ruleId, i) =>
        rule({ ...port([22, 3389, 5432][i]!), ruleId }),
      );

      const findings = evaluate(rules, DEFAULT_POLICY, context());

      expect(findings.map((f) => f.rule.ruleId)).toEqual(['sgr-a', 'sgr-b', 'sgr-c']);
    });

    it('returns the rule it judged, untouched', () => {
      const r = rule(port(22));

      const [finding] = evaluate([r], DEFAULT_POLICY, context());

      expect(finding?.rule).toEqual(r);
    });

    it('returns nothing for no rules', () => {
      expect(evaluate([], DEFAULT_POLICY, context())).toEqual([]);
    });
  });

  describe('predicates', () => {
    it('isAllProtocols is true only for protocol all', () => {
      expect(isAllProtocols(rule({ protocol: 'all' }))).toBe(true);
      expect(isAllProtocols(rule({ protocol: 'tcp' }))).toBe(false);
    });

    it('isWholePortRange needs TCP or UDP with 0-65535 or no ports', () => {
      expect(isWholePortRange(rule({ fromPort: 0, toPort: 65535 }))).toBe(true);
      expect(isWholePortRange(rule({ protocol: 'udp', fromPort: null, toPort: null }))).toBe(true);
      expect(isWholePortRange(rule({ fromPort: 1, toPort: 65535 }))).toBe(false);
      expect(isWholePortRange(rule({ protocol: 'icmp', fromPort: null, toPort: null }))).toBe(false);
    });

    it('adminPortsTouched lists the admin ports inside the range, sorted and once each', () => {
      expect(adminPortsTouched(rule({ fromPort: 3300, toPort: 3400 }), [3389, 22, 3306, 3389])).toEqual([
        3306, 3389,
      ]);
      expect(adminPortsTouched(rule({ protocol: 'udp', fromPort: null, toPort: null }), [22])).toEqual([22]);
      expect(adminPortsTouched(rule({ protocol: 'icmp', fromPort: 22, toPort: 22 }), [22])).toEqual([]);
      expect(adminPortsTouched(rule({ fromPort: 23, toPort: 24 }), [22, 25])).toEqual([]);
    });

    it('isAllowedPort needs exactly the allowed protocol and single port', () => {
      const allowed = DEFAULT_POLICY.allowedPorts;

      expect(isAllowedPort(rule(port(443)), allowed)).toBe(true);
      expect(isAllowedPort(rule(port(80)), allowed)).toBe(true);
      expect(isAllowedPort(rule({ fromPort: 80, toPort: 443 }), allowed)).toBe(false);
      expect(isAllowedPort(rule({ protocol: 'udp', ...port(443) }), allowed)).toBe(false);
    });

    it('isIcmp is true for ICMP and ICMPv6 only', () => {
      expect(isIcmp(rule({ protocol: 'icmp' }))).toBe(true);
      expect(isIcmp(rule({ protocol: 'icmpv6' }))).toBe(true);
      expect(isIcmp(rule({ protocol: '58' }))).toBe(false);
      expect(isIcmp(rule({ protocol: 'tcp' }))).toBe(false);
    });
  });

  describe('describeRule', () => {
    it.each<[Partial<RuleFacts>, string]>([
      [port(22), 'ingress TCP 22 (SSH) from 0.0.0.0/0'],
      [port(8443), 'ingress TCP 8443 from 0.0.0.0/0'],
      [{ protocol: 'udp', fromPort: 1000, toPort: 2000 }, 'ingress UDP 1000–2000 from 0.0.0.0/0'],
      [{ fromPort: 0, toPort: 65535 }, 'ingress TCP all ports from 0.0.0.0/0'],
      [{ fromPort: null, toPort: null }, 'ingress TCP all ports from 0.0.0.0/0'],
      [
        { protocol: 'all', fromPort: null, toPort: null, direction: 'egress' },
        'egress all traffic to 0.0.0.0/0',
      ],
      [{ protocol: 'icmp', fromPort: null, toPort: null }, 'ingress ICMP (all types) from 0.0.0.0/0'],
      [
        { protocol: 'icmpv6', fromPort: 128, toPort: null, source: '::/0' },
        'ingress ICMPv6 type 128 from ::/0',
      ],
      [{ protocol: '47', fromPort: null, toPort: null }, 'ingress protocol 47 all ports from 0.0.0.0/0'],
      [
        { ...port(5432), source: ALB_GROUP, sourceKind: 'security-group' },
        `ingress TCP 5432 (PostgreSQL) from ${ALB_GROUP}`,
      ],
    ])('describes %p as %p', (overrides, expected) => {
      expect(describeRule(rule(overrides))).toBe(expected);
    });

    it('describePorts gives the protocol and ports without direction or source', () => {
      expect(describePorts(rule(port(3389)))).toBe('TCP 3389 (RDP)');
    });
  });

  describe('the repository default policy and the corpus', () => {
    const repoPolicy = loadConfig(join(repoRoot, 'config', 'sg-warden.yml')).policy;

    function findingsFor(name: string, p: PolicyConfig): Finding[] {
      const bytes = readFileSync(join(repoRoot, 'test', 'fixtures', 'corpus', name));
      return parseCloudTrail(decodeJson(bytes)).flatMap((e) =>
        evaluate(e.rules, p, { actor: e.actor, groupTags: null }),
      );
    }

    it('rates every corpus event as the baseline says', () => {
      const names = readdirSync(join(repoRoot, 'test', 'fixtures', 'corpus')).filter((n) =>
        n.endsWith('.json'),
      );

      const severities = Object.fromEntries(
        names.map((n) => [n.replace(/\.json$/, ''), findingsFor(n, repoPolicy).map((f) => f.severity)]),
      );

      expect(severities).toEqual({
        elastic_integrations_authorize_sg_egress_assumedrole_ec2_instance_rulearn: [],
        elastic_integrations_authorize_sg_ingress_iamuser_grimoire_rulearn: [],
        nuvibit_eventbridge_authorize_sg_ingress_ipv4_assumedrole_sso: ['critical'],
        panther_manual_sg_change_authorize_sg_egress_all_protocols_with_description: [],
        panther_manual_sg_change_authorize_sg_ingress_error_unauthorized_panther_enriched: [],
        panther_manual_sg_change_create_security_group_terraform: [],
        stratus_detonation_authorize_sg_ingress_legacy_flat_params_loglicker: ['high'],
      });
    });

    it('rates the all-protocol egress record critical once egress is evaluated', () => {
      const findings = findingsFor(
        'panther_manual_sg_change_authorize_sg_egress_all_protocols_with_description.json',
        { ...repoPolicy, evaluateEgress: true },
      );

      expect(findings.map((f) => f.severity)).toEqual(['critical']);
    });

    it('case 3: alerts on an engineer’s own CloudFormation stack under the repository policy (no service is exempt)', () => {
      const cloudFormation = actor({ invokedBy: 'cloudformation.amazonaws.com' });

      const finding = evaluateRule(rule(port(22)), repoPolicy, context({ actor: cloudFormation }));

      expect(finding).toMatchObject({ severity: 'high', action: 'alert', timeoutSeconds: 900 });
    });

    it('exempts a group tagged sg-warden:exempt under the repository policy once a trusted tagger set it (none by default)', () => {
      const tags = { 'sg-warden:exempt': 'vendor VPN until June' };
      const tagSetters = { 'sg-warden:exempt': setBy(NETWORK_ADMIN_SESSION, 'vendor VPN until June') };
      const trusting = {
        ...repoPolicy,
        exceptions: { ...repoPolicy.exceptions, trustedTaggers: [NETWORK_ADMIN] },
      };

      expect(evaluateRule(rule(port(22)), trusting, context({ groupTags: tags, tagSetters }))).toBeNull();
      expect(repoPolicy.exceptions.trustedTaggers).toEqual([]);
      expect(
        evaluateRule(rule(port(22)), repoPolicy, context({ groupTags: tags, tagSetters }))?.severity,
      ).toBe('high');
    });
  });
});
