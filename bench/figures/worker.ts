import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ActionIds } from '../../slack/ids';
import { documentClient } from '../../test/support/aws';
import { blockActionBody, signedEvent } from '../../test/support/slack-requests';
import { lambdaInvokeSink, preciseNow, SlowProxy } from '../../test/support/slow-proxy';
import { bundleFor, type FigureContext } from '../lib/context';
import { motoUrl, startBenchEnv, WORKER_FUNCTION } from '../lib/env';
import { FunctionHost } from '../lib/function-host';
import type { FigureResult, GoalResult } from '../lib/report';
import { msPair, roundStat, summarize } from '../lib/stats';
import { seedAlerts, worldOpenRules } from '../lib/world';

/** #24 (2): a Revoke press, from the job the worker receives to the updated message. */
const PRESS_CALL_BUDGET = 7;
/**
 * The calls #24 counts apart, as in the detection figure: the backstop's schedule removal and the EC2
 * trust check (the reads that confirm the rule and the group's tags in EC2); the revoke itself counts.
 */
function apartOf(call: { service: string; action: string }): 'schedule' | 'trust' | null {
  if (call.service === 'scheduler') return 'schedule';
  if (call.service === 'ec2' && call.action.startsWith('Describe')) return 'trust';
  return null;
}

/**
 * Figure: a Revoke press on a warm worker container. Alerts are seeded by the real detection function; the
 * real door hands off each press (its Lambda Invoke caught by the proxy); the worker runs the job it
 * would receive, and the figure counts the AWS calls from the job's start to the message's update.
 */
export async function run(ctx: FigureContext): Promise<FigureResult> {
  const started = Date.now();
  const door = bundleFor(ctx, 'handlers/slack-http');
  const detection = bundleFor(ctx, 'handlers/cloudtrail-event');
  const worker = bundleFor(ctx, 'handlers/slack-worker');
  if (!door || !detection || !worker) throw new Error('the door, detection or worker is not bundled');
  const warmups = 2;
  const runs = ctx.quick ? 5 : 20;
  const env = await startBenchEnv();
  const jobs: { functionName: string; payload: unknown }[] = [];
  const fast = await new SlowProxy({
    target: motoUrl(),
    delayMs: 0,
    intercept: lambdaInvokeSink(jobs),
  }).start();
  const counted = await new SlowProxy({ target: motoUrl(), delayMs: 0 }).start();
  const hosts: FunctionHost[] = [];
  const host = async (file: string, name: string, endpoint: string, extra: Record<string, string> = {}) => {
    const h = await new FunctionHost({
      bundle: file,
      functionName: name,
      env: env.functionEnv(endpoint, extra),
      nodeOptions: ctx.nodeOptions,
    }).start();
    hosts.push(h);
    return h;
  };
  try {
    const rules = await worldOpenRules(warmups + runs);
    const alerts = await seedAlerts(await host(detection.file, 'seed', fast.url), env.tableName, rules);
    const doorHost = await host(door.file, 'door', fast.url, { SG_WARDEN_WORKER_FUNCTION: WORKER_FUNCTION });
    for (const a of alerts) {
      const answer = await doorHost.invoke(
        signedEvent(
          blockActionBody({
            actionId: ActionIds.revoke,
            value: a.violationId,
            channel: a.channel,
            messageTs: a.ts,
            responseUrl: env.slack.responseUrl(),
          }),
        ),
      );
      if (answer.error) throw new Error(`door failed: ${answer.error}`);
    }
    if (jobs.length !== alerts.length)
      throw new Error(`the door handed off ${jobs.length} jobs for ${alerts.length} presses`);
    const workerHost = await host(worker.file, 'worker', counted.url);
    const doc = documentClient();
    const results: {
      ms: number;
      calls: number;
      own: number;
      schedule: number;
      trust: number;
      names: string[];
      status: string;
      updated: boolean;
    }[] = [];
    for (const [i, job] of jobs.entries()) {
      const alert = alerts[i]!;
      const updatesBefore = env.slack.callsTo('chat.update').length;
      const t0 = preciseNow();
      const result = await workerHost.invoke(job.payload);
      if (result.error) throw new Error(`worker failed: ${result.error}`);
      const calls = counted.callsWithin(result.startedAt, result.endedAt);
      const updated = env.slack
        .callsTo('chat.update')
        .slice(updatesBefore)
        .some((c) => c.args.ts === alert.ts);
      const stored = await doc.send(
        new GetCommand({
          TableName: env.tableName,
          Key: { pk: `VIOLATION#${alert.violationId}`, sk: 'VIOLATION' },
        }),
      );
      if (i < warmups) continue;
      results.push({
        ms: preciseNow() - t0,
        calls: calls.length,
        own: calls.filter((c) => apartOf(c) === null).length,
        schedule: calls.filter((c) => apartOf(c) === 'schedule').length,
        trust: calls.filter((c) => apartOf(c) === 'trust').length,
        names: calls.map((c) => `${c.service}:${c.action}`),
        status: String(stored.Item?.status ?? 'missing'),
        updated,
      });
    }
    const time = summarize(results.map((r) => r.ms));
    const calls = summarize(results.map((r) => r.calls));
    const own = summarize(results.map((r) => r.own));
    const schedule = Math.max(0, ...results.map((r) => r.schedule));
    const trust = Math.max(0, ...results.map((r) => r.trust));
    const statuses = [...new Set(results.map((r) => r.status))];
    const updated = results.filter((r) => r.updated).length;
    const goals: GoalResult[] = [
      {
        goal: `#24 (2) a Revoke press: ≤ ${PRESS_CALL_BUDGET} AWS calls from the job to the updated message (the backstop's removal and the EC2 trust check apart)`,
        met: own.max <= PRESS_CALL_BUDGET && updated === results.length && statuses.join() === 'REVOKED',
        detail: `${own.max} at most (median ${own.median}), apart: ${schedule} schedule removal, ${trust} trust-check reads; ${calls.max} in all; ${updated}/${results.length} messages updated; violations ${statuses.join(', ')}; calls of the last press: ${results[results.length - 1]?.names.join(', ')}`,
      },
    ];
    return {
      figure: 'worker',
      title: '8. Worker: a Revoke press (the job handed off → the message updated; warm)',
      columns: [
        'measure',
        'job → message med/p99',
        'own AWS calls med (max)',
        'schedule (apart)',
        'trust check (apart)',
        'all AWS calls med (max)',
        'violations',
        'messages updated',
      ],
      rows: [
        [
          'Revoke press',
          msPair(time),
          `${own.median} (${own.max})`,
          String(schedule),
          String(trust),
          `${calls.median} (${calls.max})`,
          statuses.join(', '),
          `${updated}/${results.length}`,
        ],
      ],
      goals,
      notes: [
        `one warm worker container (bundled handler in its own process; ${warmups} untimed jobs first), ${results.length} presses, each on a fresh violation seeded by the real detection function and handed off by the real door; AWS = moto through a counting proxy, no delay`,
        'the job proves itself as deployed: the signed Slack request is checked with the signing secret (read once per container) and claimed once',
      ],
      data: {
        runs: results.length,
        jobToMessageMs: roundStat(time),
        awsCallsPerPress: { median: calls.median, max: calls.max },
        ownAwsCallsPerPress: { median: own.median, max: own.max },
        lastPressCalls: results[results.length - 1]?.names ?? [],
        violationStatuses: statuses,
        messagesUpdated: updated,
      },
      durationMs: Date.now() - started,
    };
  } finally {
    for (const h of hosts) await h.stop();
    await counted.stop();
    await fast.stop();
    await env.stop();
  }
}
