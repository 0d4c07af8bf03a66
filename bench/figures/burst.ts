import { randomUUID } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';
import type { EmulatedMessage } from '../../local/shared/slack-emulator-types';
import type { ViolationItem } from '../../services/violations/items';
import { authorizeIngressRecord, eventBridgeEvent } from '../../test/support/cloudtrail-factory';
import type { FigureContext } from '../lib/context';
import { ALERT_CHANNEL, motoUrl, startBenchEnv } from '../lib/env';
import type { FigureResult, GoalResult } from '../lib/report';
import { count, round } from '../lib/stats';
import { worldOpenRules } from '../lib/world';

/** Slack's pace for one channel, as the emulator enforces it: one post and one update a second. */
const MESSAGES_PER_SECOND = 1;
const SWEEP_EVERY_MS = 60_000;
const PRINCIPALS = 10;
/** The issue's goals: every violation visible, and every message updated after the auto-revokes, within 2 min. */
const GOAL_SECONDS = 120;
/** Each rule's time before auto-revoke (the figure waits it out on the product clock). */
const DEADLINE_MINUTES = 10;

/**
 * Product time: real time plus whatever idle time the bench skipped. The product's clock, its sweeper
 * schedule and the Slack emulator's rate limits all read it, so skipping idle minutes changes nothing
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

/** The violation IDs a message shows, one per line (block IDs `rule:<id>`). */
function linesOf(m: EmulatedMessage): string[] {
  return (m.blocks as { block_id?: unknown }[])
    .map((b) => (typeof b.block_id === 'string' ? b.block_id : ''))
    .filter((id) => id.startsWith('rule:'))
    .map((id) => id.slice('rule:'.length));
}

const isDigest = (m: EmulatedMessage) =>
  (m.metadata as { event_type?: string } | undefined)?.event_type === 'sg_warden_digest';
const hasPendingButtons = (m: EmulatedMessage) => JSON.stringify(m.blocks).includes('"violation_revoke"');

/**
 * Figure 4: a burst of violating events from ten principals within a minute, through the real detection
 * handler (in-process, bounded concurrency), with the Slack emulator enforcing one message and one update
 * per second per channel and the real sweeper on its one-minute schedule; then every rule's deadline
 * passes and the sweeper auto-revokes them all. Idle minutes between sweeps are skipped (SkippingClock).
 */
export async function run(ctx: FigureContext): Promise<FigureResult> {
  const started = Date.now();
  const events = ctx.quick ? 100 : 1000;
  const windowMs = ctx.quick ? 10_000 : 60_000;
  const realBudgetMs = ctx.quick ? 60_000 : 240_000;
  const maxInFlight = 50;
  const clock = new SkippingClock();
  const timeout = `${DEADLINE_MINUTES}m`;
  const env = await startBenchEnv({
    config: `slack:\n  alertChannel: ${ALERT_CHANNEL}\npolicy:\n  timeouts: { critical: ${timeout}, high: ${timeout}, medium: ${timeout}, low: ${timeout} }\n`,
    slack: {
      now: () => clock.now(),
      rateLimits: {
        'chat.postMessage': { calls: MESSAGES_PER_SECOND, perSeconds: 1 },
        'chat.update': { calls: MESSAGES_PER_SECOND, perSeconds: 1 },
      },
    },
  });
  Object.assign(process.env, env.functionEnv(motoUrl()), {
    SG_WARDEN_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
  });
  const { getWiring } = await import('../../handlers/wiring');
  const detection = await import('../../handlers/cloudtrail-event');
  const sweeper = await import('../../handlers/sweeper');
  const wiring = getWiring();
  wiring.clock = () => new Date(clock.now());
  // A detection that drains a burst keeps Slack's pace on the product clock (its sleeps are real).
  wiring.posting = { minIntervalMs: 1100, budgetMs: 30_000, nowMs: () => clock.now() };
  try {
    // A terraform apply gone wrong: world-open rules that exist in EC2 (so they can be revoked), one
    // API call (one event) each, made by ten principals in turn.
    const rules = await worldOpenRules(events);
    const deliveries = rules.map(
      (rule, i) =>
        eventBridgeEvent(
          authorizeIngressRecord({
            groupId: rule.groupId,
            rules: [{ ruleId: rule.ruleId, fromPort: rule.port, toPort: rule.port, cidr: '0.0.0.0/0' }],
            eventId: randomUUID(),
            principalArn: `arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/dev${i % PRINCIPALS}@example.com`,
          }),
        ) as unknown as EventBridgeEvent<string, unknown>,
    );

    // What Slack shows, as it changes: when each violation was first visible, and each message's last change.
    const visibleAt = new Map<string, number>();
    const lastChangeAt = new Map<string, number>();
    const off = env.slack.onChange((change) => {
      if (change.kind !== 'message' || change.channel !== ALERT_CHANNEL) return;
      const m = env.slack.messages.get(`${change.channel}/${change.ts}`);
      if (!m || m.threadTs || m.ephemeralTo) return;
      const at = clock.now();
      lastChangeAt.set(m.ts, at);
      for (const id of linesOf(m)) if (!visibleAt.has(id)) visibleAt.set(id, at);
    });
    const topLevel = () =>
      [...env.slack.messages.values()].filter(
        (m) => m.channel === ALERT_CHANNEL && !m.threadTs && !m.ephemeralTo,
      );

    const t0 = clock.now();
    const productSeconds = (at = clock.now()) => (at - t0) / 1000;
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

    // Phase 1, real time: deliveries spread evenly over the window, at most `maxInFlight` at once, and
    // sweeps on the product clock's minute boundaries (several may overlap, as EventBridge would start them).
    const detectionErrors: string[] = [];
    let inFlight = 0;
    let peakInFlight = 0;
    const running = new Set<Promise<void>>();
    const sweepsRunning = new Set<Promise<void>>();
    const sweepIfDue = () => {
      if (clock.now() < nextSweep) return;
      const s = runSweep().finally(() => sweepsRunning.delete(s));
      sweepsRunning.add(s);
      nextSweep += SWEEP_EVERY_MS;
    };
    for (let i = 0; i < events; i++) {
      const due = t0 + (i * windowMs) / events;
      while (clock.now() < due) {
        sweepIfDue();
        await new Promise((r) => setTimeout(r, Math.max(0, Math.min(due - clock.now(), 50))));
      }
      while (inFlight >= maxInFlight) await Promise.race(running);
      inFlight++;
      peakInFlight = Math.max(peakInFlight, inFlight);
      const p: Promise<void> = detection
        .handler(deliveries[i]!)
        .then(
          () => undefined,
          (error) => void detectionErrors.push(String(error)),
        )
        .finally(() => {
          inFlight--;
          running.delete(p);
        });
      running.add(p);
    }
    const deliveredIn = productSeconds();
    // The detection that holds the channel drains the backlog; sweeps come on the minute meanwhile.
    while (running.size > 0) {
      sweepIfDue();
      await Promise.race([...running, new Promise((r) => setTimeout(r, 200))]);
    }
    await Promise.all(sweepsRunning);

    // Phase 2: sweeps every product minute until every violation is visible (idle time skipped).
    const pending = await wiring.store.queryByStatus<ViolationItem>('violation', 'PENDING', 100_000);
    const ids = pending.map((v) => v.violationId);
    const allVisible = () => ids.every((id) => visibleAt.has(id));
    const realEnd = Date.now() + realBudgetMs;
    while (!allVisible() && Date.now() < realEnd) {
      clock.advanceTo(nextSweep);
      nextSweep += SWEEP_EVERY_MS;
      await runSweep();
    }
    const visibleSeconds = allVisible()
      ? productSeconds(Math.max(...ids.map((id) => visibleAt.get(id)!)))
      : null;
    const shownIn = new Map<string, number>();
    for (const m of topLevel()) for (const id of linesOf(m)) shownIn.set(id, (shownIn.get(id) ?? 0) + 1);
    const lost = events - ids.filter((id) => visibleAt.has(id)).length;
    const twice = [...shownIn.values()].filter((n) => n > 1).length;
    const posted = topLevel();
    const digests = posted.filter(isDigest);
    const postCalls = env.slack.callsTo('chat.postMessage').length;
    const posts429 = env.slack.rateLimited.filter((c) => c.method === 'chat.postMessage').length;

    // Phase 3: every deadline passes; sweeps every product minute auto-revoke them (200 per kind per
    // sweep) and update each message once per sweep, until every message shows every rule decided.
    const updatesBefore = env.slack.callsTo('chat.update').length;
    const updates429Before = env.slack.rateLimited.filter((c) => c.method === 'chat.update').length;
    const latestDeadline = Math.max(...pending.map((v) => Date.parse(v.deadline ?? '0')));
    clock.advanceTo(latestDeadline + 1000);
    nextSweep = clock.now();
    let allRevokedAt: number | null = null;
    let allUpdatedAt: number | null = null;
    const phase3End = Date.now() + realBudgetMs;
    while (allUpdatedAt === null && Date.now() < phase3End) {
      clock.advanceTo(nextSweep);
      nextSweep += SWEEP_EVERY_MS;
      await runSweep();
      if (allRevokedAt === null) {
        const revoked = await wiring.store.queryByStatus<ViolationItem>('violation', 'AUTO_REVOKED', 100_000);
        if (revoked.length >= events)
          allRevokedAt = Math.max(...revoked.map((v) => Date.parse(v.decidedAt!)));
      }
      if (allRevokedAt !== null && !topLevel().some(hasPendingButtons))
        allUpdatedAt = Math.max(allRevokedAt, ...topLevel().map((m) => lastChangeAt.get(m.ts) ?? 0));
    }
    off();
    const updateSeconds =
      allRevokedAt !== null && allUpdatedAt !== null ? (allUpdatedAt - allRevokedAt) / 1000 : null;
    const updateCalls = env.slack.callsTo('chat.update').length - updatesBefore;
    const updates429 =
      env.slack.rateLimited.filter((c) => c.method === 'chat.update').length - updates429Before;

    const seconds = (s: number | null, budget: string) =>
      s === null ? `not within ${budget}` : `${s.toFixed(1)} s`;
    const visibleText = seconds(visibleSeconds, `${realBudgetMs / 1000} s of real time`);
    const updateText =
      allRevokedAt === null
        ? 'not all auto-revoked within the budget'
        : seconds(updateSeconds, `${realBudgetMs / 1000} s of real time`);
    const rows = [
      [
        'events delivered',
        `${count(events)} from ${PRINCIPALS} principals in ${deliveredIn.toFixed(1)} s (peak ${peakInFlight} invocations at once)`,
      ],
      ['time until every violation is visible in Slack', `${visibleText} after the first event`],
      [
        'violations lost (never visible)',
        `${lost}${detectionErrors.length ? ` (${detectionErrors.length} detection errors)` : ''}`,
      ],
      ['violations shown in more than one message', String(twice)],
      [
        'messages posted',
        `${count(posted.length)} (${digests.length} digests, ${posted.length - digests.length} single alerts)`,
      ],
      [
        '  one message per alert would take at 1 message/s',
        `${(events / MESSAGES_PER_SECOND / 60).toFixed(1)} min`,
      ],
      ['chat.postMessage calls / answered 429', `${count(postCalls)} / ${count(posts429)}`],
      ['time until every message is updated after all were auto-revoked', updateText],
      [
        'chat.update calls after the deadlines / answered 429',
        `${count(updateCalls)} / ${count(updates429)}`,
      ],
      ['sweeps run', `${sweeps} (${(clock.skippedMs / 60_000).toFixed(1)} min of idle product time skipped)`],
    ];
    const goals: GoalResult[] = [
      {
        goal: `every violation visible in Slack within ${GOAL_SECONDS} s`,
        met: visibleSeconds !== null && visibleSeconds <= GOAL_SECONDS,
        detail: `${visibleText}; ${posted.length} messages, ${posts429} posts refused with 429`,
      },
      {
        goal: `every message updated within ${GOAL_SECONDS} s after all ${count(events)} were auto-revoked`,
        met: updateSeconds !== null && updateSeconds <= GOAL_SECONDS,
        detail: `${updateText}; ${updateCalls} updates, ${updates429} refused with 429`,
      },
      { goal: 'violations lost = 0', met: lost === 0, detail: `${lost} of ${events} never shown` },
      {
        goal: 'violations posted twice = 0',
        met: twice === 0,
        detail: `${twice} shown in more than one message`,
      },
    ];
    return {
      figure: 'burst',
      title: `4. Burst (${count(events)} violating events within ${windowMs / 1000} s from ${PRINCIPALS} principals; Slack: ${MESSAGES_PER_SECOND} message and update/s/channel)`,
      columns: ['measure', 'value'],
      rows,
      goals,
      notes: [
        'the real detection and sweeper handlers in one process (logging off), moto and the Slack emulator on loopback; the emulator answers 429 with Retry-After beyond 1 chat.postMessage and 1 chat.update per second per channel',
        'a burst (more than 5 alerts waiting for the channel within 10 s) goes out as digests, one per (principal, region) group, as many rules as fit in 50 blocks; the detection that finds it takes the channel and drains it at 1.1 s a message',
        "time compression: only idle time is skipped — the clock jumps to the next sweep minute (and past the deadlines) whenever nothing is running; the product clock, the sweeper schedule and the emulator's rate limits all read the same clock, and everything runs at real speed",
        `deadlines of ${DEADLINE_MINUTES} minutes; the sweeper revokes at most 200 per sweep (its query limit), so the wave takes several sweeps: the update time counts from the last auto-revoke`,
        ...(sweepErrors.length ? [`sweep errors: ${sweepErrors.slice(0, 3).join('; ')}`] : []),
        ...(detectionErrors.length ? [`detection errors: ${detectionErrors.slice(0, 3).join('; ')}`] : []),
      ],
      data: {
        events,
        principals: PRINCIPALS,
        deliveryWindowSeconds: windowMs / 1000,
        deliveredInSeconds: round(deliveredIn),
        peakInFlight,
        visibleSeconds: visibleSeconds === null ? null : round(visibleSeconds),
        violationsLost: lost,
        postedTwice: twice,
        messagesPosted: posted.length,
        digests: digests.length,
        postCalls,
        posts429,
        updateSeconds: updateSeconds === null ? null : round(updateSeconds),
        updateCalls,
        updates429,
        sweeps,
        skippedIdleSeconds: round(clock.skippedMs / 1000),
        realSeconds: round((Date.now() - started) / 1000),
        detectionErrors: detectionErrors.slice(0, 5),
      },
      durationMs: Date.now() - started,
    };
  } finally {
    await env.stop();
  }
}
