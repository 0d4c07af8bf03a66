import { attachmentLabel, type Exposure } from './classify';
import type { SeverityStep } from './severity';

/** How many attachments an alert names before "and N more". */
export const CONTEXT_ATTACHMENTS = 3;

/**
 * The one line an alert shows under a violation: the exposure class, up to three attachments (the most
 * exposed first) and "and N more", and the severity change when exposure made one:
 * "Exposure: internet · i-0abc (web-1, 3.248.1.9), load balancer web (internet-facing) · high → critical".
 * Plain text: names and descriptions come from AWS, so the Slack side escapes it.
 */
export function exposureContextLine(exposure: Exposure, step?: SeverityStep): string {
  const parts = [`Exposure: ${exposure.exposure}`];
  if (exposure.exposure === 'unattached') parts.push('no network interface uses this group now');
  else if (exposure.attachments.length === 0)
    parts.push(exposure.reason.replace(/^exposure unknown: /, 'not read: '));
  else {
    const shown = exposure.attachments.slice(0, CONTEXT_ATTACHMENTS).map(attachmentLabel);
    const rest = exposure.attachments.length - shown.length;
    parts.push(`${shown.join(', ')}${rest > 0 ? ` and ${rest} more` : ''}`);
  }
  if (step && step.change !== 'kept') parts.push(`${step.from} → ${step.severity}`);
  return parts.join(' · ');
}
