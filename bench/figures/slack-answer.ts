import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ActionIds } from '../../slack/ids';
import { createGroup } from '../../test/support/aws';
import {
  blockActionBody,
  signedEvent,
  slashCommandBody,
  viewSubmissionBody,
} from '../../test/support/slack-requests';
import { lambdaInvokeSink, SlowProxy } from '../../test/support/slow-proxy';
import { bundleFor, type FigureContext } from '../lib/context';
import { type BenchEnv, benchConfig, motoUrl, startBenchEnv, WORKER_FUNCTION } from '../lib/env';
import { FunctionHost } from '../lib/function-host';
import type { FigureResult, GoalResult } from '../lib/report';
import { ms, msPair, roundStat, type Stat, summarize } from '../lib/stats';
import { inParallel, type SeededAlert, seedAlerts, worldOpenRules } from '../lib/world';

/**
 * #24's goals by AWS delay (`--aws-delay-ms`): +30 ms per call (in-region latency) and +1 s (a degraded
 * region). A delay without goals is measured and printed, not judged.
 */
const GOALS_BY_DELAY: Record<number, { warmMs: number | null; coldMs: number }> = {
  30: { warmMs: 60, coldMs: 450 },
  1000: { warmMs: null, coldMs: 2000 },
};

interface Path {
  id: string;
  label: string;
  /** The issue that builds the listener, for "n/a (waiting for issue N)". */
  issue: number;
  request: (i: number) => APIGatewayProxyEventV2 | null;
}

interface Answer {
  ms: number;
  status: number | null;
  body: string;
  awsWaitedOn: string[];
  error?: string;
}

/** Keeps the parts of a view Slack would send back on submit: each input block's current value. */
function submittedValues(
  view: Record<string, unknown>,
): Record<string, Record<string, Record<string, unknown>>> {
  const values: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const block of (view.blocks as Record<string, unknown>[] | undefined) ?? []) {
    if (block.type !== 'input') continue;
    const element = block.element as Record<string, unknown> | undefined;
    const blockId = block.block_id as string | undefined;
    const actionId = element?.action_id as string | undefined;
    if (!element || !blockId || !actionId) continue;
    let value: Record<string, unknown>;
    switch (element.type) {
      case 'plain_text_input':
        value = {
          type: 'plain_text_input',
          value: 'Needed for the quarterly load test; closed again on Friday.',
        };
        break;
      case 'static_select':
      case 'radio_buttons': {
        const options = (element.options as Record<string, unknown>[] | undefined) ?? [];
        const option = (element.initial_option as Record<string, unknown> | undefined) ?? options[0];
        value =
          element.type === 'static_select'
            ? { type: 'static_select', selected_option: option ?? null }
            : { type: 'radio_buttons', selected_option: option ?? null };
        break;
      }
      default:
        value = { type: String(element.type) };
    }
    values[blockId] = { [actionId]: value };
  }
  return values;
}

/** Runs tasks with a new one started every `intervalMs` and at most `maxInFlight` at once. */
async function staggered<R>(
  count: number,
  intervalMs: number,
  maxInFlight: number,
  task: (i: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(count);
  const running = new Set<Promise<void>>();
  for (let i = 0; i < count; i++) {
    while (running.size >= maxInFlight) await Promise.race(running);
    const p: Promise<void> = task(i).then((r) => {
      results[i] = r;
      running.delete(p);
    });
    running.add(p);
    if (i < count - 1) await new Promise((r) => setTimeout(r, intervalMs));
  }
  await Promise.all(running);
  return results;
}

function awsNames(calls: { service: string; action: string }[]): string[] {
  const counts = new Map<string, number>();
  for (const c of calls)
    counts.set(`${c.service}:${c.action}`, (counts.get(`${c.service}:${c.action}`) ?? 0) + 1);
  return [...counts.entries()].map(([name, n]) => (n > 1 ? `${name}×${n}` : name));
}

/**
 * Figure 2: signed request in → HTTP answer out at the Slack door, warm and cold, with every AWS call
 * slowed by each of `ctx.awsDelaysMs` in turn (a delaying proxy in front of moto; Lambda's async Invoke,
 * the door's hand-off to the worker, is answered by the proxy after the same delay).
 */
export async function run(ctx: FigureContext): Promise<FigureResult> {
  const started = Date.now();
  const door = bundleFor(ctx, 'handlers/slack-http');
  const detection = bundleFor(ctx, 'handlers/cloudtrail-event');
  if (!door || !detection) throw new Error('the Slack door or the detection function is not bundled');
  const doorFile = door.file;
  const coldRuns = ctx.quick ? 2 : 4;
  const warmHosts = ctx.quick ? 2 : 3;
  const warmPerHost = ctx.quick ? 2 : 3;
  const { groupId: whitelistGroupId } = await createGroup();
  const env: BenchEnv = await startBenchEnv({ config: benchConfig({ whitelistGroupId }) });
  const jobs: { functionName: string; payload: unknown }[] = [];
  const fast = await new SlowProxy({
    target: motoUrl(),
    delayMs: 0,
    intercept: lambdaInvokeSink(jobs),
  }).start();
  const doorEnv = (endpoint: string) =>
    env.functionEnv(endpoint, { SG_WARDEN_WORKER_FUNCTION: WORKER_FUNCTION });
  const notes: string[] = [];
  try {
    // Violations to press buttons on: a fresh one for every Revoke and Keep press.
    const perPath = coldRuns + 2 * warmHosts * (warmPerHost + 1) + 2;
    const delays = ctx.awsDelaysMs?.length ? ctx.awsDelaysMs : [30, 1000];
    const rules = await worldOpenRules(perPath * 2 * delays.length);
    const seeder = await new FunctionHost({
      bundle: detection.file,
      functionName: 'seed',
      env: env.functionEnv(fast.url),
      nodeOptions: ctx.nodeOptions,
    }).start();
    let alerts: SeededAlert[];
    try {
      alerts = await seedAlerts(seeder, env.tableName, rules);
    } finally {
      await seeder.stop();
    }
    const revokeAll = alerts.slice(0, perPath * delays.length);
    const keepAlerts = alerts.slice(perPath * delays.length);

    // The Keep modal as the door opens it (on a fast helper door), to answer it like Slack would.
    const helper = await new FunctionHost({
      bundle: doorFile,
      functionName: 'helper',
      env: doorEnv(fast.url),
      nodeOptions: ctx.nodeOptions,
    }).start();
    let keepView: Record<string, unknown> | null = null;
    try {
      const first = keepAlerts[0]!;
      const before = env.slack.callsTo('views.open').length;
      await helper.invoke(
        signedEvent(
          blockActionBody({
            actionId: ActionIds.keep,
            value: first.violationId,
            channel: first.channel,
            messageTs: first.ts,
            responseUrl: env.slack.responseUrl(),
          }),
        ),
      );
      keepView =
        (env.slack.callsTo('views.open')[before]?.args.view as Record<string, unknown> | undefined) ?? null;
    } finally {
      await helper.stop();
    }

    const measureDelay = async (AWS_DELAY_MS: number, offset: number) => {
      const revokeAlerts = revokeAll.slice(offset);
      const press = (actionId: string, a: SeededAlert | undefined) =>
        a
          ? signedEvent(
              blockActionBody({
                actionId,
                value: a.violationId,
                channel: a.channel,
                messageTs: a.ts,
                responseUrl: env.slack.responseUrl(),
                triggerId: `${Date.now()}.${Math.random().toString(36).slice(2)}`,
              }),
            )
          : null;
      const command = (name: string, text: string) => () =>
        signedEvent(slashCommandBody({ command: name, text, responseUrl: env.slack.responseUrl() }));
      const paths: Path[] = [
        {
          id: 'revoke',
          label: 'button: Revoke',
          issue: 3,
          request: (i) => press(ActionIds.revoke, revokeAlerts[i]),
        },
        {
          id: 'keep',
          label: 'button: Keep… (opens modal)',
          issue: 3,
          request: (i) => press(ActionIds.keep, keepAlerts[offset + i + 1]),
        },
        {
          id: 'keep-submit',
          label: 'modal submit: Keep',
          issue: 3,
          request: (i) => {
            if (!keepView) return null;
            const original = keepAlerts[0]!.violationId;
            const target = keepAlerts[offset + i + 1]?.violationId ?? original;
            const metadata = String(keepView.private_metadata ?? '')
              .split(original)
              .join(target);
            return signedEvent(
              viewSubmissionBody({
                callbackId: String(keepView.callback_id ?? ''),
                values: submittedValues(keepView),
                privateMetadata: metadata,
              }),
            );
          },
        },
        { id: 'status', label: '/sg-status', issue: 4, request: command('/sg-status', '') },
        {
          id: 'whitelist',
          label: '/sg-whitelist bench 203.0.113.7 for 1h',
          issue: 4,
          request: command('/sg-whitelist', 'bench 203.0.113.7 for 1h'),
        },
        { id: 'run', label: '/sg-run uptime web', issue: 5, request: command('/sg-run', 'uptime web') },
      ];

      /** One request to a host behind its own slow proxy; the AWS calls that finished inside it are what it waited on. */
      const ask = async (
        host: FunctionHost,
        proxy: SlowProxy,
        event: APIGatewayProxyEventV2,
        includeLoad: boolean,
      ): Promise<Answer> => {
        const result = await host.invoke(event);
        const r = (result.result ?? {}) as { statusCode?: number; body?: string };
        return {
          ms: result.durationMs + (includeLoad ? host.ready.loadMs : 0),
          status: r.statusCode ?? null,
          body: typeof r.body === 'string' ? r.body.slice(0, 300) : '',
          awsWaitedOn: awsNames(proxy.callsWithin(result.startedAt, result.endedAt)),
          ...(result.error ? { error: result.error } : {}),
        };
      };
      const slowProxy = () =>
        new SlowProxy({
          target: motoUrl(),
          delayMs: AWS_DELAY_MS,
          intercept: lambdaInvokeSink(jobs),
        }).start();

      const rows: string[][] = [];
      const goals: GoalResult[] = [];
      const data: Record<string, unknown> = {
        awsDelayMs: AWS_DELAY_MS,
        paths: {} as Record<string, unknown>,
      };
      const plus = `+${ms(AWS_DELAY_MS)}`;
      const goal = GOALS_BY_DELAY[AWS_DELAY_MS];
      // Warm containers, shared by every path: each has its own proxy, so its AWS calls are its own.
      const warm = await Promise.all(
        Array.from({ length: warmHosts }, async (_, h) => {
          const proxy = await slowProxy();
          const host = await new FunctionHost({
            bundle: doorFile,
            functionName: `warm${h}`,
            env: doorEnv(proxy.url),
            nodeOptions: ctx.nodeOptions,
          }).start();
          return { host, proxy };
        }),
      );
      // The same, with only the hand-off (Lambda Invoke) at normal speed: what the door costs apart from it.
      const warmFastHandOff = await Promise.all(
        Array.from({ length: warmHosts }, async (_, h) => {
          const proxy = await new SlowProxy({
            target: motoUrl(),
            delayMs: (call) => (call.service === 'lambda' && call.action === 'Invoke' ? 0 : AWS_DELAY_MS),
            intercept: lambdaInvokeSink(jobs),
          }).start();
          const host = await new FunctionHost({
            bundle: doorFile,
            functionName: `warmfast${h}`,
            env: doorEnv(proxy.url),
            nodeOptions: ctx.nodeOptions,
          }).start();
          return { host, proxy };
        }),
      );
      let nextIndex = 0;
      const take = () => nextIndex++;
      try {
        for (const path of paths) {
          const pathStarted = Date.now();
          nextIndex = 0;
          const probe = path.request(take());
          if (!probe) {
            rows.push([
              path.label,
              'n/a',
              'n/a',
              'n/a',
              '',
              `waiting for issue ${path.issue} (no Keep modal to submit)`,
            ]);
            (data.paths as Record<string, unknown>)[path.id] = {
              available: false,
              reason: 'no modal opened by Keep',
            };
            continue;
          }
          // Cold: a fresh container per run; Slack waits for init (module load) plus the first invocation.
          const coldRun = async (): Promise<Answer> => {
            const proxy = await slowProxy();
            const host = await new FunctionHost({
              bundle: doorFile,
              functionName: 'cold',
              env: doorEnv(proxy.url),
              nodeOptions: ctx.nodeOptions,
            }).start();
            try {
              return await ask(host, proxy, path.request(take())!, true);
            } finally {
              await host.stop();
              await proxy.stop();
            }
          };
          const firstCold = await coldRun();
          if (firstCold.status === 404) {
            rows.push([
              path.label,
              'n/a',
              'n/a',
              'n/a',
              'HTTP 404',
              `waiting for issue ${path.issue} (no listener yet: Bolt answers 404)`,
            ]);
            (data.paths as Record<string, unknown>)[path.id] = {
              available: false,
              reason: 'HTTP 404: no listener registered',
            };
            continue;
          }
          const cold = [firstCold, ...(await staggered(coldRuns - 1, 1200, 3, coldRun))];
          // Warm: one untimed request of this path per container first, then sequential timed requests.
          await Promise.all(warm.map(({ host, proxy }) => ask(host, proxy, path.request(take())!, false)));
          const warmRuns = async (containers: typeof warm) =>
            (
              await Promise.all(
                containers.map(async ({ host, proxy }) => {
                  const list: Answer[] = [];
                  for (let i = 0; i < warmPerHost; i++)
                    list.push(await ask(host, proxy, path.request(take())!, false));
                  return list;
                }),
              )
            ).flat();
          const warmAnswers = await warmRuns(warm);
          await Promise.all(
            warmFastHandOff.map(({ host, proxy }) => ask(host, proxy, path.request(take())!, false)),
          );
          const fastHandOffStat = summarize((await warmRuns(warmFastHandOff)).map((a) => a.ms));
          const warmStat: Stat = summarize(warmAnswers.map((a) => a.ms));
          const coldStat: Stat = summarize(cold.map((a) => a.ms));
          const statuses = [
            ...new Set([...cold, ...warmAnswers].map((a) => (a.error ? `error` : `HTTP ${a.status}`))),
          ];
          const waited = [...new Set(warmAnswers.flatMap((a) => a.awsWaitedOn))];
          const waitedCold = [...new Set(cold.flatMap((a) => a.awsWaitedOn))];
          rows.push([
            `${path.label} (AWS ${plus})`,
            msPair(warmStat),
            msPair(coldStat),
            msPair(fastHandOffStat),
            statuses.join(', '),
            `warm: ${waited.join(', ') || 'none'}; cold: ${waitedCold.join(', ') || 'none'}`,
          ]);
          (data.paths as Record<string, unknown>)[path.id] = {
            available: true,
            label: path.label,
            warmMs: roundStat(warmStat),
            coldMs: roundStat(coldStat),
            warmMsWithHandOffAtNormalSpeed: roundStat(fastHandOffStat),
            answers: statuses,
            awsCallsWaitedOnWarm: waited,
            awsCallsWaitedOnCold: waitedCold,
            sampleBody: warmAnswers[0]?.body ?? '',
            errors: [...cold, ...warmAnswers].filter((a) => a.error).map((a) => a.error),
            durationMs: Date.now() - pathStarted,
          };
          const within = (value: number, limit: number | null) =>
            limit === null ? 'not judged' : value <= limit ? 'met' : `${ms(value - limit)} over`;
          const goalText = goal
            ? [goal.warmMs === null ? null : `≤ ${ms(goal.warmMs)} warm`, `≤ ${ms(goal.coldMs)} cold`]
                .filter(Boolean)
                .join(', ')
            : 'no goal at this delay';
          goals.push({
            goal: `#24 (4) ${path.label}, AWS ${plus}/call: p99 ${goalText}`,
            met: goal
              ? (goal.warmMs === null || warmStat.p99 <= goal.warmMs) && coldStat.p99 <= goal.coldMs
              : null,
            detail: `warm p99 ${ms(warmStat.p99)} (${within(warmStat.p99, goal?.warmMs ?? null)}), cold p99 ${ms(coldStat.p99)} (${within(coldStat.p99, goal?.coldMs ?? null)}); anchor: the same door with the hand-off at normal speed answers warm in ${ms(fastHandOffStat.p99)} p99${waited.length || waitedCold.length ? `; the answer waited on ${[...new Set([...waited, ...waitedCold])].join(', ')}` : ''}`,
          });
        }
      } finally {
        await inParallel([...warm, ...warmFastHandOff], 4, async ({ host, proxy }) => {
          await host.stop();
          await proxy.stop();
        });
      }
      return { rows, goals, data };
    };
    const rows: string[][] = [];
    const goals: GoalResult[] = [];
    const data: Record<string, unknown> = { awsDelaysMs: delays, byDelay: {} as Record<string, unknown> };
    for (const [d, delayMs] of delays.entries()) {
      const measured = await measureDelay(delayMs, d * perPath);
      rows.push(...measured.rows);
      goals.push(...measured.goals);
      (data.byDelay as Record<string, unknown>)[String(delayMs)] = measured.data;
    }

    notes.push(
      `door in its deployed shape: jobs handed to the worker by Lambda async Invoke (SG_WARDEN_WORKER_FUNCTION set); the proxy answers Invoke with 202 after the same delay as every other call (${delays.map((d) => `+${ms(d)}`).join(', then ')}: \`--aws-delay-ms\`); the worker's own work is not part of the answer`,
      `cold = module load + first invocation in a fresh process (${coldRuns} per path, staggered so loads do not overlap); warm = ${warmHosts} containers × ${warmPerHost} sequential requests after one untimed request of the same path`,
      `"hand-off not slowed" = ${warmHosts} more warm containers whose proxy delays every AWS call but Lambda Invoke: what the door costs apart from the hand-off`,
      `"waited on" = AWS calls that started and finished inside the request, i.e. the answer could not leave before them`,
      `${jobs.length} jobs handed off during the figure`,
    );
    return {
      figure: 'answer',
      title: `2. Slack answer time (signed request in → HTTP answer out; every AWS call ${delays.map((d) => `+${ms(d)}`).join(' / ')})`,
      columns: [
        'request',
        'warm med/p99',
        'cold med/p99',
        'warm, hand-off not slowed',
        'answers',
        'AWS calls the answer waited on',
      ],
      rows,
      goals,
      notes,
      data,
      durationMs: Date.now() - started,
    };
  } finally {
    await fast.stop();
    await env.stop();
  }
}
