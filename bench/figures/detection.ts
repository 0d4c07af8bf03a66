import { preciseNow, SlowProxy } from '../../test/support/slow-proxy';
import { bundleFor, type FigureContext } from '../lib/context';
import { ALERT_CHANNEL, motoUrl, startBenchEnv } from '../lib/env';
import { FunctionHost } from '../lib/function-host';
import type { FigureResult, GoalResult } from '../lib/report';
import { ms, msPair, round, roundStat, type Stat, summarize } from '../lib/stats';
import { type LiveRule, violatingEvent, worldOpenRules } from '../lib/world';

const ONE_RULE_GOAL_MS = 150;
/** The reads an exposure lookup makes (services/aws/ec2-network.ts); #14 allows at most 3 per group. */
const EXPOSURE_READS = new Set([
  'DescribeNetworkInterfaces',
  'DescribeRouteTables',
  'DescribeTags',
  'DescribeLoadBalancers',
]);
const EXPOSURE_CALLS_PER_GROUP = 3;

/**
 * Figure 3: EventBridge event in → the alert's chat.postMessage recorded by the Slack emulator, on a warm
 * detection container, for events carrying 1, 10 and 60 rules.
 */
export async function run(ctx: FigureContext): Promise<FigureResult> {
  const started = Date.now();
  const detection = bundleFor(ctx, 'handlers/cloudtrail-event');
  if (!detection) throw new Error('the detection function is not bundled');
  const sizes = [
    { rules: 1, runs: ctx.quick ? 5 : 30 },
    { rules: 10, runs: ctx.quick ? 3 : 20 },
    { rules: 60, runs: ctx.quick ? 2 : 10 },
  ];
  const env = await startBenchEnv();
  // A pass-through proxy (no delay), only to count the AWS calls each event makes.
  const proxy = await new SlowProxy({ target: motoUrl(), delayMs: 0 }).start();
  const host = await new FunctionHost({
    bundle: detection.file,
    functionName: 'detection',
    env: env.functionEnv(proxy.url),
    nodeOptions: ctx.nodeOptions,
  }).start();
  try {
    // Real rules, created beforehand (setup is not timed): one group per 60-rule event, 50 per group otherwise.
    const warmups = 3;
    const single = await worldOpenRules(warmups + sizes[0]!.runs);
    const ten = await worldOpenRules(10 * sizes[1]!.runs, 50);
    const sixty: LiveRule[][] = [];
    for (let i = 0; i < sizes[2]!.runs; i++) sixty.push(await worldOpenRules(60, 60));
    const eventsFor = (rules: number): LiveRule[][] => {
      if (rules === 1) return single.slice(warmups).map((r) => [r]);
      if (rules === 10)
        return Array.from({ length: sizes[1]!.runs }, (_, i) => ten.slice(i * 10, i * 10 + 10));
      return sixty;
    };

    /** Sends one event and resolves when the emulator records the alert's post (and the handler has returned). */
    const measure = async (rules: LiveRule[]) => {
      const t0 = preciseNow();
      const posted = env.slack
        .waitFor(
          'chat.postMessage',
          (c) => c.args.channel === ALERT_CHANNEL && c.at >= Math.floor(t0),
          30_000,
        )
        .then(() => preciseNow());
      const result = await host.invoke(violatingEvent(rules));
      const postedAt = await posted;
      if (result.error) throw new Error(`detection failed: ${result.error}`);
      const violations = (result.result as { violations?: number } | null)?.violations ?? 0;
      const calls = proxy.callsWithin(result.startedAt, result.endedAt);
      const exposureCalls = calls.filter((c) => EXPOSURE_READS.has(c.action)).length;
      // The backstop's CreateSchedule per violating rule (README "How temporary is temporary"), counted apart.
      const scheduleCalls = calls.filter((c) => c.service === 'scheduler').length;
      // Every rule of one event is on one group.
      const groups = new Set(rules.map((r) => r.groupId)).size;
      return {
        latencyMs: postedAt - t0,
        handlerMs: result.durationMs,
        violations,
        awsCalls: calls.length,
        exposureCalls,
        scheduleCalls,
        exposureCallsPerGroup: exposureCalls / groups,
      };
    };

    for (let i = 0; i < warmups; i++) await measure([single[i]!]);
    const rows: string[][] = [];
    const perSize: Record<string, unknown> = {};
    const stats = new Map<number, Stat>();
    let worstExposurePerGroup = 0;
    for (const size of sizes) {
      const results = [];
      for (const rules of eventsFor(size.rules)) {
        env.slack.reset();
        results.push(await measure(rules));
      }
      const latency = summarize(results.map((r) => r.latencyMs));
      const handler = summarize(results.map((r) => r.handlerMs));
      const violations = [...new Set(results.map((r) => r.violations))];
      const awsCalls = summarize(results.map((r) => r.awsCalls));
      const exposureCalls = summarize(results.map((r) => r.exposureCalls));
      const scheduleCalls = summarize(results.map((r) => r.scheduleCalls));
      worstExposurePerGroup = Math.max(worstExposurePerGroup, ...results.map((r) => r.exposureCallsPerGroup));
      stats.set(size.rules, latency);
      rows.push([
        `${size.rules} rule${size.rules > 1 ? 's' : ''}`,
        msPair(latency),
        msPair(handler),
        (latency.median / size.rules).toFixed(1),
        String(awsCalls.median),
        String(exposureCalls.median),
        String(scheduleCalls.median),
        violations.join(', '),
      ]);
      perSize[String(size.rules)] = {
        runs: results.length,
        eventToMessageMs: roundStat(latency),
        handlerMs: roundStat(handler),
        awsCallsPerEvent: awsCalls.median,
        exposureCallsPerEvent: exposureCalls.median,
        scheduleCallsPerEvent: scheduleCalls.median,
        violationsStored: violations,
      };
    }

    // What one call to the emulator costs, so the figures can be read against real DynamoDB/EC2 latencies.
    const perAction = new Map<string, number[]>();
    for (const c of proxy.calls) {
      const list = perAction.get(`${c.service}:${c.action}`) ?? [];
      list.push(c.endedAt - c.startedAt);
      perAction.set(`${c.service}:${c.action}`, list);
    }
    const callLatency = Object.fromEntries(
      [...perAction.entries()].map(([name, list]) => [name, roundStat(summarize(list))]),
    );
    const callLatencyText = [...perAction.entries()]
      .sort((a, b) => b[1].length - a[1].length)
      .slice(0, 5)
      .map(([name, list]) => `${name} ${ms(summarize(list).median)}`)
      .join(', ');
    const one = stats.get(1)!;
    const t10 = stats.get(10)!;
    const t60 = stats.get(60)!;
    // Linear growth means a constant cost per extra rule: compare the slope from 10 to 60 with the slope from 1 to 10.
    const slopeLow = (t10.median - one.median) / 9;
    const slopeHigh = (t60.median - t10.median) / 50;
    const goals: GoalResult[] = [
      {
        goal: `one rule: event → message p99 < ${ONE_RULE_GOAL_MS} ms (warm)`,
        met: one.p99 < ONE_RULE_GOAL_MS,
        detail: `median ${ms(one.median)}, p99 ${ms(one.p99)}${one.p99 < ONE_RULE_GOAL_MS ? '' : ` (${ms(one.p99 - ONE_RULE_GOAL_MS)} over)`}`,
      },
      {
        goal: 'grows no worse than linearly with the rules in one event',
        met: slopeHigh <= slopeLow * 1.25 + 0.5,
        detail: `${ms(slopeLow)} per extra rule from 1 to 10, ${ms(slopeHigh)} per extra rule from 10 to 60 (60 rules = ${(t60.median / one.median).toFixed(1)} × one rule)`,
      },
      {
        goal: `exposure: at most ${EXPOSURE_CALLS_PER_GROUP} AWS calls per group per event`,
        met: worstExposurePerGroup <= EXPOSURE_CALLS_PER_GROUP,
        detail: `at most ${worstExposurePerGroup} per group (the AWS calls column includes them)`,
      },
    ];
    return {
      figure: 'detection',
      title: '3. Detection latency (EventBridge event in → Slack message recorded; warm)',
      columns: [
        'event',
        'event→message med/p99',
        'handler med/p99',
        'ms per rule',
        'AWS calls',
        'exposure calls',
        'schedule calls',
        'violations stored',
      ],
      rows,
      goals,
      notes: [
        'one warm detection container (bundled handler in its own process) against moto and the Slack emulator on loopback, AWS not slowed; rules created in moto beforehand, one AuthorizeSecurityGroupIngress per rule',
        `per-rule slopes: ${ms(slopeLow)} (1→10), ${ms(slopeHigh)} (10→60)`,
        "exposure calls: the group's lookup (DescribeNetworkInterfaces, then route tables and one more only when the group is attached); the bench's groups are used by nothing, so one call",
        `the calls are sequential, so latency ≈ calls × emulator latency; moto per call (median, via the proxy): ${callLatencyText}`,
      ],
      data: {
        sizes: perSize,
        slopeMsPerRule: { from1to10: round(slopeLow), from10to60: round(slopeHigh) },
        emulatorCallMs: callLatency,
      },
      durationMs: Date.now() - started,
    };
  } finally {
    await host.stop();
    await proxy.stop();
    await env.stop();
  }
}
