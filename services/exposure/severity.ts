import type { PolicyConfig } from '../config/config';
import { formatDuration } from '../shared/duration';
import { SEVERITIES, type Severity } from '../shared/model';
import type { Exposure, ExposureClass } from './classify';

/** `policy.exposure`: what each exposure class does to a finding's severity. */
export type ExposurePolicy = PolicyConfig['exposure'];
/** One step up or down the severity scale, or none. */
export type ExposureStep = 'raise' | 'keep' | 'lower';

/** A severity after exposure has had its say, with the deadline that goes with it. */
export interface SeverityStep {
  /** The severity the rules gave. */
  from: Severity;
  severity: Severity;
  change: 'raised' | 'lowered' | 'kept';
  exposure: ExposureClass;
  /** Seconds until auto-revoke at the final severity (policy.timeouts), or null: notify only. */
  timeoutSeconds: number | null;
  /** For the finding: the exposure, and the change when there is one. */
  reasons: string[];
}

/** What the policy does for this class: an exposure that could not be read never lowers anything. */
export function stepFor(policy: ExposurePolicy, exposure: ExposureClass): ExposureStep {
  const step = policy[exposure];
  return exposure === 'unknown' && step === 'lower' ? 'keep' : step;
}

/** One step along critical > high > medium > low, stopping at either end. */
export function moveSeverity(severity: Severity, step: ExposureStep): Severity {
  const index = SEVERITIES.indexOf(severity);
  const next = step === 'raise' ? index - 1 : step === 'lower' ? index + 1 : index;
  return SEVERITIES[Math.min(Math.max(next, 0), SEVERITIES.length - 1)]!;
}

function deadlineText(severity: Severity, seconds: number | null): string {
  return seconds === null
    ? `${severity} findings are notify-only`
    : `the ${severity} deadline applies (${formatDuration(seconds)})`;
}

/**
 * The severity a finding gets once its group's exposure is known, as `policy.exposure` says (by default
 * internet raises one step, unattached lowers one step, internal and unknown keep), and the deadline of
 * that final severity. With `policy.exposure.enabled: false` the severity is the rules' own.
 */
export function stepSeverity(
  severity: Severity,
  exposure: Pick<Exposure, 'exposure' | 'reason'>,
  policy: Pick<PolicyConfig, 'exposure' | 'timeouts'>,
): SeverityStep {
  const kept = (reasons: string[]): SeverityStep => ({
    from: severity,
    severity,
    change: 'kept',
    exposure: exposure.exposure,
    timeoutSeconds: policy.timeouts[severity],
    reasons,
  });
  if (!policy.exposure.enabled) return kept([]);
  const step = stepFor(policy.exposure, exposure.exposure);
  const final = moveSeverity(severity, step);
  if (final === severity) return kept([exposure.reason]);
  const timeoutSeconds = policy.timeouts[final];
  const change = step === 'raise' ? 'raised' : 'lowered';
  const why = `severity ${change} from ${severity} to ${final} (policy.exposure.${exposure.exposure}: ${step})`;
  return {
    from: severity,
    severity: final,
    change,
    exposure: exposure.exposure,
    timeoutSeconds,
    reasons: [exposure.reason, change === 'lowered' ? `${why}; ${deadlineText(final, timeoutSeconds)}` : why],
  };
}
