import type { Context } from 'aws-lambda';
import { runScan, type ScanOutcome } from '../services/scan/scan';
import { getWiring, inInvocation, scanDeps } from './wiring';

/**
 * The reconciliation scan (EventBridge schedule, config `scan.schedule`; or its own continuation when a
 * run ran out of time): every rule of every watched account and region, judged like an event's.
 */
export async function handler(_event?: unknown, context?: Context): Promise<ScanOutcome> {
  const wiring = getWiring();
  return inInvocation(context, {}, async () => {
    const remainingMs = () => context?.getRemainingTimeInMillis?.() ?? Number.MAX_SAFE_INTEGER;
    try {
      const outcome = await runScan(scanDeps(wiring), { remainingMs });
      // Accounts and regions it could not read (an alarm watches), and a finished run.
      if (outcome.newErrors > 0) wiring.metrics.add('ScanErrors', outcome.newErrors);
      if (outcome.state === 'done') {
        wiring.metrics.add('Scans', 1);
        wiring.metrics.add('ScanRulesRead', outcome.totals.rulesRead);
      }
      return outcome;
    } finally {
      wiring.metrics.flush();
    }
  });
}
