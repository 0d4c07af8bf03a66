import { attachmentLabel, type Exposure } from './classify';
import type { ExposureChange, ViolationExposure } from './grade';
import type { SeverityStep } from './severity';

/** How many attachments an alert names before "and N more". */
export const CONTEXT_ATTACHMENTS = 3;

/**
 * The one line an alert shows under a violation: the exposure class, up to three attachments (the most
 * exposed first) and "and N more", and the severity change when exposure made one:
 * "Exposure: internet · i-0abc (web-1, 3.248.1.9), load balancer web (internet-facing) · high → critical".
 * Plain text: names and descriptions come from AWS, so the Slack side escapes it.
 */
export function exposureContextLine(
  exposure: ContextExposure,
  step?: Pick<SeverityStep, 'from' | 'severity' | 'change'>,
  label = 'Exposure',
): string {
  const parts = [`${label}: ${exposure.exposure}`];
  const total = exposure.attachmentCount ?? exposure.attachments.length;
  if (exposure.exposure === 'unattached') parts.push('no network interface uses this group now');
  else if (exposure.attachments.length === 0)
    parts.push(exposure.reason.replace(/^exposure unknown: /, 'not read: '));
  else {
    const shown = exposure.attachments.slice(0, CONTEXT_ATTACHMENTS).map(attachmentLabel);
    const rest = total - shown.length;
    parts.push(`${shown.join(', ')}${rest > 0 ? ` and ${rest} more` : ''}`);
  }
  if (step && step.change !== 'kept') parts.push(`${step.from} → ${step.severity}`);
  return parts.join(' · ');
}

/** What the line needs: a lookup's result, or what a violation kept of it (its first attachments and their count). */
export type ContextExposure = Pick<Exposure, 'exposure' | 'reason'> & {
  attachments: readonly Parameters<typeof attachmentLabel>[0][];
  /** All the attachments there were, when only the first few are given. */
  attachmentCount?: number;
};

/**
 * The line an alert shows under a violation: its exposure when raised, with the severity change it made;
 * after an auto-revoke, the exposure the clock found then (and the class when raised, when it differs).
 * Null when the violation has none recorded (exposure off, or an account sg-warden cannot read).
 */
export function violationExposureLine(v: {
  severity: SeverityStep['severity'];
  exposure?: ViolationExposure;
  exposureAtRevoke?: ViolationExposure;
}): string | null {
  const raised = v.exposure;
  if (v.exposureAtRevoke) {
    const line = exposureContextLine(v.exposureAtRevoke, undefined, 'Exposure at the auto-revoke');
    return raised && raised.exposure !== v.exposureAtRevoke.exposure
      ? `${line} · when raised: ${raised.exposure}`
      : line;
  }
  if (!raised) return null;
  const step =
    raised.from && raised.change
      ? { from: raised.from, severity: v.severity, change: raised.change }
      : undefined;
  return exposureContextLine(raised, step);
}

/**
 * An exposure change in words, split around its time (which the reader's side formats): "now reachable from
 * the internet through i-0abc (web-1, 3.248.1.9) since" · 10:02 · "— alice associated 3.248.1.9 with
 * i-0abc". A fall says that nothing is relaxed. Plain text: names come from AWS, so the Slack side escapes.
 */
export function exposureChangeParts(change: ExposureChange): { before: string; after: string } {
  const after = `— ${change.by} ${change.what}`;
  if (change.direction === 'fell')
    return {
      before: `exposure fell from ${change.from ?? 'unknown'} to ${change.to} (${change.reason}) since`,
      after: `${after}; nothing is relaxed: the severity and deadline stay`,
    };
  if (change.to === 'internet') return { before: `now ${change.reason} since`, after };
  return {
    before: `exposure rose from ${change.from ?? 'unknown'} to ${change.to} (${change.reason}) since`,
    after,
  };
}

/** The change as one plain line, its time in UTC (logs, the CLI). */
export function exposureChangeText(change: ExposureChange): string {
  const { before, after } = exposureChangeParts(change);
  return `${before} ${change.since.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')} ${after}`;
}
