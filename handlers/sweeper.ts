import { type SweepSummary, sweep } from '../services/sweeper';
import { dueHandlers } from '../slack/due-handlers';
import { getWiring } from './wiring';

/** The clock (EventBridge schedule, rate 1 minute): handles every kind of due work once. */
export async function handler(): Promise<SweepSummary> {
  const wiring = getWiring();
  // Alerts go to one channel, which Slack limits to about one message a second: post them in order.
  const summary = await sweep(wiring, dueHandlers(wiring), wiring.clock(), {
    concurrencyByKind: { NOTIFY: 1 },
  });
  wiring.logger.info({ summary }, 'sweep done');
  return summary;
}
