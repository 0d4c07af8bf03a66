import type { Context, EventBridgeEvent } from 'aws-lambda';
import { parseCloudTrail } from '../services/detection/cloudtrail';
import { detect } from '../services/detection/detect';
import { detectExposureChange } from '../services/detection/exposure-change';
import { parseExposureChanges } from '../services/detection/exposure-events';
import { cachedPrefixLists } from '../services/detection/prefix-lists';
import { endGrantSessions } from '../services/grants/sessions';
import { BACKSTOP_ACTOR } from '../services/kernel/audit';
import { BadInputError, describeError } from '../services/shared/errors';
import { getWiring, inInvocation } from './wiring';

/**
 * EventBridge → detection. Bad input is logged and dropped (retrying cannot fix it); AWS or Slack
 * trouble is thrown so Lambda retries, which is safe because detection is idempotent per eventID.
 */
export async function handler(
  event: EventBridgeEvent<string, unknown>,
  context?: Context,
): Promise<{ processed: number; violations: number }> {
  const wiring = getWiring();
  const eventId = (event.detail as { eventID?: string } | undefined)?.eventID ?? event.id;
  return inInvocation(context, { eventId }, async (logger) => {
    let sgEvents: ReturnType<typeof parseCloudTrail>;
    let exposureChanges: ReturnType<typeof parseExposureChanges>;
    try {
      sgEvents = parseCloudTrail(event);
      exposureChanges = parseExposureChanges(event);
    } catch (error) {
      if (error instanceof BadInputError) {
        logger.error(
          { err: describeError(error), detailType: event['detail-type'] },
          'event is not a CloudTrail record; dropped',
        );
        return { processed: 0, violations: 0 };
      }
      throw error;
    }
    let violations = 0;
    // Prefix lists are read at most once per invocation, and never believed beyond it.
    const prefixLists = cachedPrefixLists(wiring.ec2);
    // Each group's exposure is looked up at most once per invocation, and never believed beyond it.
    const exposure = wiring.newExposureLookup();
    try {
      for (const sgEvent of sgEvents) {
        // The canary (an alarm watches for silence) and how late CloudTrail delivered the call.
        wiring.metrics.add('CloudTrailEvents', 1);
        const lateMs = wiring.clock().getTime() - Date.parse(sgEvent.eventTime);
        if (lateMs >= 0) wiring.metrics.add('DetectionLatency', lateMs / 1000);
        const result = await detect(
          {
            ...wiring,
            groups: wiring.ec2,
            prefixLists,
            exposure,
            endGrantSessions: (grant) => endGrantSessions(wiring, grant, BACKSTOP_ACTOR),
          },
          sgEvent,
        );
        logger.info(
          {
            outcome: result.outcome,
            violations: result.violations,
            posted: result.posted,
            skipped: result.skipped,
          },
          'event handled',
        );
        violations += result.violations;
      }
      // Calls that change what groups expose without changing a rule: their groups are re-graded.
      for (const change of exposureChanges) {
        const result = await detectExposureChange(
          { ...wiring, groups: wiring.ec2, prefixLists, exposure },
          change,
        );
        logger.info(
          { outcome: result.outcome, groups: result.groups, leftToScan: result.leftToScan },
          'exposure change handled',
        );
      }
    } finally {
      wiring.metrics.flush();
    }
    return { processed: sgEvents.length + exposureChanges.length, violations };
  });
}
