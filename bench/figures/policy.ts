import { parseConfig } from '../../services/config/config';
import { type EvaluationContext, evaluate } from '../../services/detection/policy';
import type { Actor, RuleFacts } from '../../services/shared/model';
import type { FigureContext } from '../lib/context';
import type { FigureResult } from '../lib/report';
import { count, round, summarize } from '../lib/stats';

/** A policy with everything switched on that costs time: exceptions, principal patterns, only-from rules. */
const POLICY_YAML = `slack:
  alertChannel: C0BENCH
policy:
  evaluateEgress: true
  exceptions:
    groupIds: [sg-0aaaaaaaaaaaaaaa1, sg-0aaaaaaaaaaaaaaa2]
    tags:
      - key: "sg-warden:exempt"
      - key: team
        value: netops
    sourceCidrs: [198.51.100.0/24, 203.0.113.0/24, "2001:db8:1234::/48"]
  principals:
    - arn: "arn:aws:iam::*:role/*-ci-deploy"
      action: notify
      reason: CI/CD deploy role
    - arn: "arn:aws:sts::*:assumed-role/*-ci-deploy/*"
      action: notify
    - invokedBy: cloudformation.amazonaws.com
      stack: "platform-*"
      action: notify
    - arn: "arn:aws:iam::111122223333:role/break-glass"
      action: ignore
  onlyFrom:
    - name: databases
      groups: { tags: { tier: db } }
      allowedSources: [sg-0bbbbbbbbbbbbbbb1]
      severity: high
    - name: payments
      groups: { ids: [sg-0ccccccccccccccc1] }
      allowedSources: [sg-0ccccccccccccccc2, sg-0ccccccccccccccc3]
      severity: critical
`;

function rule(overrides: Partial<RuleFacts>): RuleFacts {
  return {
    groupId: 'sg-0123456789abcdef0',
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

/**
 * A realistic mix, weighted like a busy account's security-group changes: mostly private and allowed
 * rules, some world-open admin ports, a few wide ranges, IPv6, ICMP, egress, group references.
 */
function ruleMix(): { rule: RuleFacts; weight: number }[] {
  return [
    { weight: 20, rule: rule({ source: '10.20.0.0/16', fromPort: 5432, toPort: 5432 }) },
    { weight: 8, rule: rule({ source: '172.31.4.0/24', fromPort: 22, toPort: 22 }) },
    { weight: 14, rule: rule({ source: '0.0.0.0/0', fromPort: 443, toPort: 443 }) },
    { weight: 6, rule: rule({ source: '0.0.0.0/0', fromPort: 80, toPort: 80 }) },
    { weight: 8, rule: rule({ source: '0.0.0.0/0', fromPort: 22, toPort: 22 }) },
    { weight: 4, rule: rule({ source: '0.0.0.0/0', fromPort: 3389, toPort: 3389 }) },
    { weight: 3, rule: rule({ source: '0.0.0.0/0', protocol: 'all', fromPort: null, toPort: null }) },
    { weight: 3, rule: rule({ source: '0.0.0.0/0', fromPort: 0, toPort: 65535 }) },
    { weight: 4, rule: rule({ source: '0.0.0.0/0', fromPort: 8000, toPort: 9000 }) },
    { weight: 3, rule: rule({ source: '52.0.0.0/6', fromPort: 6379, toPort: 6379 }) },
    { weight: 4, rule: rule({ source: '::/0', sourceKind: 'ipv6', fromPort: 443, toPort: 443 }) },
    { weight: 3, rule: rule({ source: '::/0', sourceKind: 'ipv6', fromPort: 22, toPort: 22 }) },
    { weight: 3, rule: rule({ source: '0.0.0.0/0', protocol: 'icmp', fromPort: 8, toPort: 0 }) },
    { weight: 4, rule: rule({ source: '198.51.100.7/32', fromPort: 22, toPort: 22 }) },
    {
      weight: 5,
      rule: rule({
        source: 'sg-0bbbbbbbbbbbbbbb1',
        sourceKind: 'security-group',
        fromPort: 5432,
        toPort: 5432,
      }),
    },
    {
      weight: 2,
      rule: rule({
        groupId: 'sg-0ccccccccccccccc1',
        source: 'sg-0ddddddddddddddd1',
        sourceKind: 'security-group',
      }),
    },
    { weight: 2, rule: rule({ source: 'pl-0123456789abcdef0', sourceKind: 'prefix-list' }) },
    {
      weight: 3,
      rule: rule({ direction: 'egress', source: '0.0.0.0/0', protocol: 'all', fromPort: null, toPort: null }),
    },
    {
      weight: 2,
      rule: rule({ groupId: 'sg-0aaaaaaaaaaaaaaa1', source: '0.0.0.0/0', fromPort: 22, toPort: 22 }),
    },
  ];
}

function actor(arn: string): Actor {
  return {
    arn,
    type: 'AssumedRole',
    roleArn: null,
    invokedBy: null,
    sourceIp: '198.51.100.23',
    userAgent: 'aws-cli',
  };
}

/** Figure 6: policy evaluation throughput on one core, over a realistic rule mix. */
export async function run(ctx: FigureContext): Promise<FigureResult> {
  const started = Date.now();
  const config = parseConfig(POLICY_YAML, 'bench policy');
  const mix = ruleMix().flatMap(({ rule: r, weight }) => Array.from({ length: weight }, () => r));
  const contexts: EvaluationContext[] = [
    {
      actor: actor('arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/dev@example.com'),
      groupTags: { env: 'prod' },
    },
    { actor: actor('arn:aws:sts::123456789012:assumed-role/app-ci-deploy/run-42'), groupTags: {} },
    { actor: actor('arn:aws:sts::123456789012:assumed-role/dba/ana@example.com'), groupTags: { tier: 'db' } },
    { actor: null, groupTags: null },
  ];
  // Events carry 1–4 rules; evaluate() is called per event, as detection does.
  const events: { rules: RuleFacts[]; ctx: EvaluationContext }[] = [];
  for (let i = 0; i < 1000; i++) {
    const size = 1 + (i % 4);
    events.push({
      rules: Array.from({ length: size }, (_, j) => mix[(i * 7 + j * 13) % mix.length]!),
      ctx: contexts[i % contexts.length]!,
    });
  }
  const rulesPerPass = events.reduce((n, e) => n + e.rules.length, 0);
  const findingsPerPass = events.reduce((n, e) => n + evaluate(e.rules, config.policy, e.ctx).length, 0);
  let sink = 0;
  const pass = () => {
    for (const e of events) sink += evaluate(e.rules, config.policy, e.ctx).length;
  };
  // Warm up the JIT, then time runs of ~200 ms each.
  const warmUntil = performance.now() + (ctx.quick ? 100 : 500);
  while (performance.now() < warmUntil) pass();
  const runs = ctx.quick ? 5 : 30;
  const perRule: number[] = [];
  for (let r = 0; r < runs; r++) {
    let passes = 0;
    const t0 = performance.now();
    let elapsed = 0;
    do {
      pass();
      passes++;
      elapsed = performance.now() - t0;
    } while (elapsed < (ctx.quick ? 40 : 200));
    perRule.push((elapsed * 1e6) / (passes * rulesPerPass)); // ns per rule
  }
  const ns = summarize(perRule);
  const rate = (nsPerRule: number) => 1e9 / nsPerRule;
  return {
    figure: 'policy',
    title: '6. Policy evaluation (one core)',
    columns: ['workload', 'rules/s median', 'rules/s p99 (slowest runs)', 'µs per rule med/p99'],
    rows: [
      [
        `${mix.length}-rule mix, 1–4 rules per event, ${runs} runs`,
        count(rate(ns.median)),
        count(rate(ns.p99)),
        `${(ns.median / 1000).toFixed(2)} / ${(ns.p99 / 1000).toFixed(2)}`,
      ],
    ],
    goals: [],
    notes: [
      `services/policy.ts evaluate() over 1,000 events (${rulesPerPass} rules) per pass: private, allowed, world-open admin, wide, IPv6, ICMP, egress and group-reference rules; exceptions, principal patterns and only-from rules configured`,
      `${findingsPerPass} findings per pass of ${rulesPerPass} rules (${sink > 0 ? 'evaluation did work' : 'NO findings: check the mix'})`,
    ],
    data: {
      rulesPerSecond: { median: round(rate(ns.median)), p99: round(rate(ns.p99)) },
      nsPerRule: {
        ...ns,
        median: round(ns.median),
        p99: round(ns.p99),
        min: round(ns.min),
        max: round(ns.max),
      },
      rulesPerPass,
      runs,
    },
    durationMs: Date.now() - started,
  };
}
