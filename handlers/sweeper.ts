import { type SweepSummary, sweep } from '../services/sweeper';
import { dueHandlers } from '../slack/due-handlers';
import { getWiring } from './wiring';

/** The clock (EventBridge schedule, rate 1 minute): handles every kind of due work once. */
export async function handler(): Promise<SweepSummary> {
  const wiring = getWiring();
  const summary = await sweep(wiring, dueHandlers(wiring), wiring.clock());
  wiring.logger.info({ summary }, 'sweep done');
  return summary;
}
