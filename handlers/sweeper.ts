import type { Context } from 'aws-lambda';
import { type SweepSummary, sweep } from '../services/kernel/sweep';
import { dueHandlers, getWiring, inInvocation } from './wiring';

/** The clock (EventBridge schedule, rate 1 minute): handles every kind of due work once. */
export async function handler(_event?: unknown, context?: Context): Promise<SweepSummary> {
  const wiring = getWiring();
  return inInvocation(context, {}, async (logger) => {
    const started = Date.now();
    // Alerts go to one channel, which Slack limits to about one message a second: post them in order,
    // paced, until 35 s of the function's 55 s have passed, so a burst drains at Slack's pace over a few
    // sweeps. Revokes come first and are not paced: every due one is read, page after page, for up to 30 s
    // (their messages are marked and updated after them, at Slack's pace, by this sweep or the next).
    const summary = await sweep(
      wiring,
      dueHandlers(wiring, { minIntervalMs: 1100, budgetMs: 35_000, startedAtMs: started }),
      wiring.clock(),
      {
        concurrencyByKind: { NOTIFY: 1, REMIND: 1, ESCALATE: 1, UNDECIDED: 1 },
        drain: { kinds: ['RECONCILE', 'REVOKE_RETRY', 'DEADLINE'], budgetMs: 30_000 },
      },
    );
    logger.info({ summary }, 'sweep done');
    // The heartbeat (an alarm watches for its absence), how long the sweep took and what it found due.
    wiring.metrics.add('Sweeps', 1);
    wiring.metrics.add('SweepDuration', Date.now() - started);
    for (const [kind, { due, failed }] of Object.entries(summary)) {
      if (due > 0) wiring.metrics.add('DueItems', due, { kind });
      if (failed > 0) wiring.metrics.add('DueItemsFailed', failed, { kind });
    }
    wiring.metrics.flush();
    return summary;
  });
}
