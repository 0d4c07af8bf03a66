import { AuthorizeSecurityGroupIngressCommand, type IpPermission } from '@aws-sdk/client-ec2';
import type { Context } from 'aws-lambda';
import type { ScanOutcome } from '../../services/scan/scan';
import { createGroup, ec2Client } from '../../test/support/aws';
import { SlowProxy } from '../../test/support/slow-proxy';
import type { FigureContext } from '../lib/context';
import { ALERT_CHANNEL, motoUrl, startBenchEnv } from '../lib/env';
import type { FigureResult, GoalResult } from '../lib/report';
import { count, round } from '../lib/stats';
import { inParallel } from '../lib/world';

/** Regions no other figure writes to: the scan reads every group of each. */
const REGIONS = ['eu-central-1', 'ap-southeast-1', 'us-west-2'];
const RULES_PER_GROUP = 20;
/** One group in this many holds one world-open SSH rule (the violations seeded). */
const VIOLATING_EVERY = 10;

/** The permissions of one group: private sources on distinct ports, one of them world-open SSH when violating. */
function permissions(violating: boolean): IpPermission[] {
  return Array.from({ length: RULES_PER_GROUP }, (_, i) =>
    violating && i === 0
      ? { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }
      : {
          IpProtocol: 'tcp',
          FromPort: 8000 + i,
          ToPort: 8000 + i,
          IpRanges: [{ CidrIp: `10.${i}.0.0/16` }],
        },
  );
}

/**
 * Figure 7: the reconciliation scan over 10,000 rules in 500 groups across three regions of the emulator
 * (quick: 1,500 in 75), through the real scan handler in-process with a proxy in front of moto counting
 * every AWS call; then a second scan, which must raise nothing.
 */
export async function run(ctx: FigureContext): Promise<FigureResult> {
  const started = Date.now();
  const groups = ctx.quick ? 75 : 500;
  const proxy = await new SlowProxy({ target: motoUrl() }).start();
  const env = await startBenchEnv({
    config: `slack:\n  alertChannel: ${ALERT_CHANNEL}\npolicy:\n  timeouts: { critical: 1w, high: 1w, medium: 1w, low: null }\nscan:\n  regions: [${REGIONS.join(', ')}]\n`,
  });
  Object.assign(process.env, env.functionEnv(proxy.url), {
    SG_WARDEN_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
  });
  try {
    // The world: one call per group (moto creates every permission of a call; only the reply is short).
    const seeded = await inParallel(Array.from({ length: groups }), 6, async (_, i) => {
      const region = REGIONS[i % REGIONS.length]!;
      const { groupId } = await createGroup(region);
      const violating = i % VIOLATING_EVERY === 0;
      await ec2Client(region).send(
        new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: permissions(violating) }),
      );
      return violating ? 1 : 0;
    });
    const violationsSeeded = seeded.reduce<number>((a, b) => a + b, 0);
    const { handler } = await import('../../handlers/scan');
    const context = { getRemainingTimeInMillis: () => 900_000 } as unknown as Context;
    const timed = async (): Promise<{ outcome: ScanOutcome; seconds: number; calls: typeof proxy.calls }> => {
      proxy.reset();
      const t0 = performance.now();
      const outcome = await handler(undefined, context);
      return { outcome, seconds: (performance.now() - t0) / 1000, calls: [...proxy.calls] };
    };
    const first = await timed();
    const second = await timed();

    const ec2Calls = (calls: typeof proxy.calls) => calls.filter((c) => c.service === 'ec2');
    const byAction = (calls: typeof proxy.calls) =>
      Object.entries(
        ec2Calls(calls).reduce<Record<string, number>>((acc, c) => {
          acc[c.action] = (acc[c.action] ?? 0) + 1;
          return acc;
        }, {}),
      )
        .map(([action, n]) => `${action} ${n}`)
        .join(', ');
    const rules = first.outcome.totals.rulesRead;
    const firstEc2 = ec2Calls(first.calls).length;
    const perThousand = rules > 0 ? (firstEc2 / rules) * 1000 : 0;
    const dynamo = (calls: typeof proxy.calls) => calls.filter((c) => c.service === 'dynamodb').length;
    const posts = env.slack.callsTo('chat.postMessage').length;
    const rows: string[][] = [
      ['rules read (seeded + the groups’ default egress rules)', count(rules)],
      ['groups read (seeded + each VPC’s default group)', count(first.outcome.totals.groups)],
      ['regions', String(REGIONS.length)],
      ['first scan: time', `${first.seconds.toFixed(1)} s`],
      ['first scan: rules per second', count(Math.round(rules / first.seconds))],
      ['first scan: EC2 calls', `${firstEc2} (${byAction(first.calls)})`],
      ['first scan: EC2 calls per 1,000 rules', perThousand.toFixed(2)],
      ['first scan: DynamoDB calls', count(dynamo(first.calls))],
      ['violations raised (seeded)', `${first.outcome.totals.violationsRaised} (${violationsSeeded})`],
      ['alerts posted', count(posts)],
      ['second scan: time', `${second.seconds.toFixed(1)} s`],
      ['second scan: EC2 calls', count(ec2Calls(second.calls).length)],
      [
        'second scan: violations raised (already known)',
        `${second.outcome.totals.violationsRaised} (${second.outcome.totals.alreadyKnown})`,
      ],
    ];
    const goals: GoalResult[] = [
      {
        goal: 'violations raised = violations seeded',
        met: first.outcome.totals.violationsRaised === violationsSeeded,
        detail: `${first.outcome.totals.violationsRaised} raised, ${violationsSeeded} seeded`,
      },
      {
        goal: 'a second scan raises none',
        met: second.outcome.totals.violationsRaised === 0,
        detail: `${second.outcome.totals.violationsRaised} raised, ${second.outcome.totals.alreadyKnown} already known`,
      },
      {
        goal: 'no target unreadable',
        met: first.outcome.totals.errors === 0 && second.outcome.totals.errors === 0,
        detail: `${first.outcome.totals.errors} + ${second.outcome.totals.errors} errors`,
      },
    ];
    return {
      figure: 'scan',
      title: `7. Scan (${count(groups * RULES_PER_GROUP)} rules in ${count(groups)} groups across ${REGIONS.length} regions)`,
      columns: ['measure', 'value'],
      rows,
      goals,
      notes: [
        'the real scan handler in one process (logging off), moto and the Slack emulator on loopback (no Slack rate limit: alerts are posted as they are raised); a proxy with no delay in front of moto counts every AWS call, SDK retries included',
        `one group in ${VIOLATING_EVERY} holds one world-open SSH rule; the other rules allow private ranges; deadlines of one week`,
        'moto answers every DescribeSecurityGroups and DescribeSecurityGroupRules call in one page; AWS pages at 1,000 groups and 1,000 rules, so in AWS the calls grow by about one per 1,000 groups and per 1,000 rules read',
      ],
      data: {
        regions: REGIONS,
        groupsSeeded: groups,
        rulesSeeded: groups * RULES_PER_GROUP,
        violationsSeeded,
        first: {
          seconds: round(first.seconds),
          totals: first.outcome.totals,
          ec2Calls: firstEc2,
          ec2CallsPerThousandRules: round(perThousand),
          dynamoCalls: dynamo(first.calls),
        },
        second: {
          seconds: round(second.seconds),
          totals: second.outcome.totals,
          ec2Calls: ec2Calls(second.calls).length,
          dynamoCalls: dynamo(second.calls),
        },
        alertsPosted: posts,
      },
      durationMs: Date.now() - started,
    };
  } finally {
    await env.stop();
    await proxy.stop();
  }
}
