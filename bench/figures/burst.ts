import { randomUUID } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';
import type { AlertItem, ViolationItem } from '../../services/violations/items';
import { createGroup } from '../../test/support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../test/support/cloudtrail-factory';
import type { FigureContext } from '../lib/context';
import { ALERT_CHANNEL, motoUrl, startBenchEnv } from '../lib/env';
import type { FigureResult, GoalResult } from '../lib/report';
import { count, round } from '../lib/stats';
import { inParallel, REGION } from '../lib/world';

/** Slack's limit for posting to one channel, as the emulator enforces it. */
const MESSAGES_PER_SECOND = 1;
const SWEEP_EVERY_MS = 60_000;

/**
 * Product time: real time plus whatever idle time the bench skipped. The product's clock, its sweeper
 * schedule and the Slack emulator's rate limit all read it, so skipping idle minutes changes nothing
 * the product can observe, while everything that happens (detection, sweeps, posting) runs at real speed.
 */
class SkippingClock {
  private offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  advanceTo(at: number): void {
    const now = this.now();
    if (at > now) this.offset += at - now;
  }
  get skippedMs(): number {
    return this.offset;
  }
}

interface Checkpoint {
  productSeconds: number;
  realSeconds: number;
  alertsPosted: number;
  messages: number;
  postAttempts: number;
}

/**
 * Figure 4: a burst of violating events delivered within a minute, through the real detection handler
 * (in-process, bounded concurrency), with the Slack emulator enforcing one message per second per channel
 * and the real sweeper on its one-minute schedule. Idle minutes between sweeps are skipped (see SkippingClock).
 */
export async function run(ctx: FigureContext): Promise<FigureResult> {
  const started = Date.now();
  const events = ctx.quick ? 100 : 1000;
  const windowMs = ctx.quick ? 10_000 : 60_000;
  const realBudgetMs = ctx.quick ? 20_000 : 60_000;
  const maxInFlight = 50;
  const clock = new SkippingClock();
  // Long deadlines: this figure is about storing and posting; auto-revoke has its own figure.
  const env = await startBenchEnv({
    config: `slack:\n  alertChannel: ${ALERT_CHANNEL}\npolicy:\n  timeouts: { critical: 1w, high: 1w, medium: 1w, low: null }\n`,
    slack: { channelRateLimitPerSecond: MESSAGES_PER_SECOND, now: () => clock.now() },
  });
  Object.assign(process.env, env.functionEnv(motoUrl()), {
    SG_WARDEN_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
  });
  const { getWiring } = await import('../../handlers/wiring');
  const detection = await import('../../handlers/cloudtrail-event');
  const sweeper = await import('../../handlers/sweeper');
  const wiring = getWiring();
  wiring.clock = () => new Date(clock.now());
  try {
    // A terraform apply gone wrong: 1,000 world-open rules over 20 groups, one API call (one event) each.
    const groups = await inParallel(
      Array.from({ length: 20 }),
      4,
      async () => (await createGroup(REGION)).groupId,
    );
    const eventIds: string[] = [];
    const deliveries = Array.from({ length: events }, (_, i) => {
      const eventId = randomUUID();
      eventIds.push(eventId);
      const ruleId = `sgr-${randomUUID().replace(/-/g, '').slice(0, 17)}`;
      const port = 1024 + i;
      return eventBridgeEvent(
        authorizeIngressRecord({
          groupId: groups[i % groups.length]!,
          rules: [{ ruleId, fromPort: port, toPort: port, cidr: '0.0.0.0/0' }],
          eventId,
        }),
      ) as unknown as EventBridgeEvent<string, unknown>;
    });

    const t0 = clock.now();
    const real0 = Date.now();
    const productSeconds = () => (clock.now() - t0) / 1000;
    const posted = () => env.slack.callsTo('chat.postMessage');
    const messages = () =>
      [...env.slack.messages.values()].filter(
        (m) => m.channel === ALERT_CHANNEL && !m.threadTs && !m.ephemeralTo,
      ).length;
    const checkpoints: Checkpoint[] = [];
    const alertsIn = async (status: AlertItem['status']) =>
      (await wiring.store.queryByStatus<AlertItem>('alert', status, 100_000)).length;
    const checkpoint = async () => {
      const cp = {
        productSeconds: round(productSeconds()),
        realSeconds: round((Date.now() - real0) / 1000),
        alertsPosted: await alertsIn('POSTED'),
        messages: messages(),
        postAttempts: posted().length,
      };
      checkpoints.push(cp);
      return cp;
    };

    // Sweeps on the product clock's minute boundaries; several may overlap, as EventBridge would start them.
    let nextSweep = t0 + SWEEP_EVERY_MS;
    let sweeps = 0;
    const sweepErrors: string[] = [];
    const runSweep = async () => {
      sweeps++;
      try {
        await sweeper.handler();
      } catch (error) {
        sweepErrors.push(String(error));
      }
    };

    // Phase 1, real time: deliveries spread evenly over the window, at most `maxInFlight` invocations at once.
    const storedAt: number[] = [];
    const detectionErrors: string[] = [];
    let inFlight = 0;
    let peakInFlight = 0;
    const running = new Set<Promise<void>>();
    const sweepsRunning = new Set<Promise<void>>();
    for (let i = 0; i < events; i++) {
      const due = t0 + (i * windowMs) / events;
      while (clock.now() < due) {
        if (clock.now() >= nextSweep) {
          const s = runSweep().finally(() => sweepsRunning.delete(s));
          sweepsRunning.add(s);
          nextSweep += SWEEP_EVERY_MS;
        }
        await new Promise((r) => setTimeout(r, Math.max(0, Math.min(due - clock.now(), 50))));
      }
      while (inFlight >= maxInFlight) await Promise.race(running);
      inFlight++;
      peakInFlight = Math.max(peakInFlight, inFlight);
      const p: Promise<void> = detection
        .handler(deliveries[i]!)
        .then(
          () => void storedAt.push(clock.now()),
          (error) => void detectionErrors.push(String(error)),
        )
        .finally(() => {
          inFlight--;
          running.delete(p);
        });
      running.add(p);
    }
    await Promise.all(running);
    await Promise.all(sweepsRunning);
    const deliveredIn = (clock.now() - t0) / 1000;
    const allStoredAt = storedAt.length ? (Math.max(...storedAt) - t0) / 1000 : Number.NaN;
    const afterDelivery = await checkpoint();

    // Phase 2: sweeps every product minute until every alert is posted; idle time between sweeps is skipped.
    const budgetEnd = Date.now() + realBudgetMs;
    let allPostedAt: number | null = afterDelivery.alertsPosted >= events ? productSeconds() : null;
    while (allPostedAt === null && Date.now() < budgetEnd) {
      clock.advanceTo(nextSweep);
      nextSweep += SWEEP_EVERY_MS;
      await runSweep();
      const cp = await checkpoint();
      if (cp.alertsPosted >= events) allPostedAt = productSeconds();
    }
    const finalCp = checkpoints[checkpoints.length - 1]!;

    // What was stored: every event's violation, nothing lost.
    const pending = await wiring.store.queryByStatus<ViolationItem>('violation', 'PENDING', 100_000);
    const storedEvents = new Set(pending.map((v) => v.eventId));
    const lost = eventIds.filter((id) => !storedEvents.has(id)).length;
    const alertStatuses: Record<string, number> = {};
    for (const status of ['STORING', 'UNNOTIFIED', 'POSTING', 'POSTED'] as const)
      alertStatuses[status] = await alertsIn(status);
    const rateLimited = finalCp.postAttempts - finalCp.messages;

    // Extrapolation when the budget ran out: the posting rate over the last ten sweeps.
    let extrapolatedSeconds: number | null = null;
    if (allPostedAt === null && checkpoints.length >= 3) {
      const tail = checkpoints.slice(-10);
      const first = tail[0]!;
      const last = tail[tail.length - 1]!;
      const rate =
        (last.alertsPosted - first.alertsPosted) / Math.max(1, last.productSeconds - first.productSeconds);
      extrapolatedSeconds =
        rate > 0 ? last.productSeconds + (events - last.alertsPosted) / rate : Number.POSITIVE_INFINITY;
    }
    const idealSeconds = events / MESSAGES_PER_SECOND;
    // How long the sweeps after the burst lasted and what each posted: the sweeper tries 8 alerts at once and
    // the channel takes one a second, so a sweep posts about one message per second it lasts.
    const afterBurst = checkpoints.slice(1);
    const sweepSeconds = afterBurst.map(
      (cp, i) => cp.realSeconds - (checkpoints[i]?.realSeconds ?? cp.realSeconds),
    );
    const postsPerSweep = afterBurst.map(
      (cp, i) => cp.alertsPosted - (checkpoints[i]?.alertsPosted ?? cp.alertsPosted),
    );
    const mean = (list: number[]) =>
      list.length ? list.reduce((a, b) => a + b, 0) / list.length : Number.NaN;
    const minutes = (s: number) =>
      Number.isFinite(s)
        ? s >= 3600
          ? `${(s / 3600).toFixed(1)} h`
          : `${(s / 60).toFixed(1)} min`
        : 'never';
    const postedText =
      allPostedAt !== null
        ? minutes(allPostedAt)
        : `not within ${minutes(finalCp.productSeconds)} (${finalCp.alertsPosted}/${events}); ≈ ${minutes(extrapolatedSeconds ?? Number.NaN)} extrapolated`;

    const rows = [
      [
        'events delivered',
        `${count(events)} in ${deliveredIn.toFixed(1)} s (peak ${peakInFlight} invocations at once)`,
      ],
      ['time until every violation is stored', `${allStoredAt.toFixed(1)} s after the first event`],
      [
        'violations lost',
        `${lost}${detectionErrors.length ? ` (${detectionErrors.length} detection errors)` : ''}`,
      ],
      ['alerts posted when the burst ended', `${afterDelivery.alertsPosted} of ${events}`],
      ['time until every alert is posted', postedText],
      ['  lower bound at 1 message/s, one message per alert', minutes(idealSeconds)],
      ['messages posted', count(finalCp.messages)],
      ['chat.postMessage calls answered 429', count(rateLimited)],
      ['sweeps run', `${sweeps} (${minutes(clock.skippedMs / 1000)} of idle product time skipped)`],
    ];
    const goals: GoalResult[] = [
      {
        goal: 'violations lost = 0',
        met: lost === 0,
        detail: `${lost} of ${events} events have no stored violation`,
      },
      {
        goal: 'every alert posted while honouring the rate limit (no goal time in the issue; lower bound 1 msg/s)',
        met: allPostedAt !== null ? allPostedAt <= idealSeconds * 1.5 : false,
        detail: `${postedText}; ${count(rateLimited)} calls refused with 429`,
      },
    ];
    return {
      figure: 'burst',
      title: `4. Burst (${count(events)} violating events within ${windowMs / 1000} s; Slack: ${MESSAGES_PER_SECOND} message/s/channel)`,
      columns: ['measure', 'value'],
      rows,
      goals,
      notes: [
        'the real detection and sweeper handlers in one process (logging off), moto and the Slack emulator on loopback; the emulator answers 429 with Retry-After beyond 1 chat.postMessage per second per channel',
        "time compression: only idle time is skipped — after the burst the clock jumps to the next sweep minute whenever nothing is running; the product clock, the sweeper schedule and the emulator's rate limit all read the same clock, and every sweep runs at real speed, so nothing the product does is sped up",
        `when the real-time budget (${realBudgetMs / 1000} s) runs out first, the time to post everything is extrapolated from the posting rate over the last ten sweeps`,
        'deadlines set to one week so auto-revoke stays out of this figure',
        ...(deliveredIn > (windowMs / 1000) * 1.1
          ? [
              `the events arrived faster than the emulator could store them: delivery was held at ${maxInFlight} invocations in flight and took ${deliveredIn.toFixed(0)} s; storing is bound by moto here (single process), not by sg-warden's own work`,
            ]
          : []),
        ...(afterBurst.length
          ? [
              `after the burst each sweep lasted ${mean(sweepSeconds).toFixed(1)} s and posted ${mean(postsPerSweep).toFixed(1)} alerts on average: a sweep posts about one alert per second it runs, so with DynamoDB's lower latency (shorter sweeps) posting would be slower than extrapolated here`,
            ]
          : []),
        ...(sweepErrors.length ? [`sweep errors: ${sweepErrors.slice(0, 3).join('; ')}`] : []),
      ],
      data: {
        events,
        deliveryWindowSeconds: windowMs / 1000,
        deliveredInSeconds: round(deliveredIn),
        peakInFlight,
        allStoredSeconds: round(allStoredAt),
        violationsLost: lost,
        detectionErrors: detectionErrors.slice(0, 5),
        alertStatuses,
        allPostedSeconds: allPostedAt === null ? null : round(allPostedAt),
        extrapolatedAllPostedSeconds: extrapolatedSeconds === null ? null : round(extrapolatedSeconds),
        lowerBoundSeconds: idealSeconds,
        messagesPosted: finalCp.messages,
        postAttempts: finalCp.postAttempts,
        rateLimited,
        sweeps,
        skippedIdleSeconds: round(clock.skippedMs / 1000),
        realSeconds: round((Date.now() - real0) / 1000),
        checkpoints,
        sweepSecondsAfterBurst: sweepSeconds.map(round),
        postsPerSweepAfterBurst: postsPerSweep,
      },
      durationMs: Date.now() - started,
    };
  } finally {
    await env.stop();
  }
}
