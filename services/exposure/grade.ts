import type { PolicyConfig } from '../config/config';
import { isDryRun } from '../detection/policy';
import type { Finding, Severity } from '../shared/model';
import type { AwsTarget } from '../shared/ports';
import type { Attachment, Exposure, ExposureClass } from './classify';
import type { ExposureLookup } from './lookup';
import { type SeverityStep, stepSeverity } from './severity';

/** How many attachments a violation keeps (the alert names three, "and N more" for the rest). */
export const STORED_ATTACHMENTS = 5;

/** One attachment as a violation keeps it: what it is, its address, and why it is (not) reachable. */
export type StoredAttachment = Omit<Attachment, 'networkInterfaceIds'>;

/**
 * A group's exposure as a violation records it (item field `exposure`, and `exposureAtRevoke` when the
 * clock looked again before revoking): the class, why, the first few attachments and how many there were,
 * and what it did to the severity. Read by the alert, `/sg-status` and whatever grades violations again.
 */
export interface ViolationExposure {
  exposure: ExposureClass;
  reason: string;
  /** The most exposed first, at most STORED_ATTACHMENTS. */
  attachments: StoredAttachment[];
  /** How many attachments the group had in all. */
  attachmentCount: number;
  /** The reads that failed, by call and AWS error code; empty when none did. */
  failures: string[];
  /** When it was looked up (ISO). */
  at: string;
  /** The severity the rules gave, and what exposure made of it (absent when severity was not stepped). */
  from?: Severity;
  change?: SeverityStep['change'];
}

/** What a violation keeps of a lookup (and of the severity step it made, when there was one). */
export function recordedExposure(exposure: Exposure, at: string, step?: SeverityStep): ViolationExposure {
  return {
    exposure: exposure.exposure,
    reason: exposure.reason,
    attachments: exposure.attachments
      .slice(0, STORED_ATTACHMENTS)
      .map(({ networkInterfaceIds: _ids, ...kept }) => kept),
    attachmentCount: exposure.attachments.length,
    failures: exposure.failures,
    at,
    ...(step ? { from: step.from, change: step.change } : {}),
  };
}

/**
 * A finding once its group's exposure is known, as `policy.exposure` says: the final severity, the
 * exposure's reasons after the policy's, and the deadline and dry-run setting of the final severity. A
 * finding a principal rule made notify-only stays notify-only whatever its severity.
 */
export function gradeFinding(
  finding: Finding,
  exposure: Exposure,
  policy: PolicyConfig,
): { finding: Finding; step: SeverityStep } {
  const step = stepSeverity(finding.severity, exposure, policy);
  const forcedNotify = finding.action === 'notify' && policy.timeouts[finding.severity] !== null;
  const timeoutSeconds = forcedNotify ? null : step.timeoutSeconds;
  return {
    step,
    finding: {
      ...finding,
      severity: step.severity,
      reasons: [...finding.reasons, ...step.reasons],
      action: timeoutSeconds === null ? 'notify' : 'alert',
      timeoutSeconds,
      dryRun: step.severity === finding.severity ? finding.dryRun : isDryRun(policy, step.severity),
    },
  };
}

/** A finding with the exposure it was graded by (null: not looked up). */
export interface GradedFinding {
  finding: Finding;
  exposure: ViolationExposure | null;
}

/**
 * Grades findings by their groups' exposure, each group looked up once through the invocation's lookup
 * (in the findings' account and region). Nothing is looked up, and the findings are returned as they are,
 * without a lookup, with `policy.exposure.enabled: false`, or when there are no findings.
 */
export async function gradeFindings(
  lookup: ExposureLookup | undefined,
  target: AwsTarget,
  findings: readonly Finding[],
  policy: PolicyConfig,
  now: () => Date,
): Promise<GradedFinding[]> {
  if (!lookup || !policy.exposure.enabled || findings.length === 0)
    return findings.map((finding) => ({ finding, exposure: null }));
  const groups = [...new Set(findings.map((f) => f.rule.groupId))];
  const exposures = new Map(
    await Promise.all(
      groups.map(async (g): Promise<[string, Exposure]> => [g, await lookup.exposureOf(target, g)]),
    ),
  );
  const at = now().toISOString();
  return findings.map((f) => {
    const exposure = exposures.get(f.rule.groupId)!;
    const graded = gradeFinding(f, exposure, policy);
    return { finding: graded.finding, exposure: recordedExposure(exposure, at, graded.step) };
  });
}

/**
 * A change of a group's exposure that a call made without touching any rule (an address associated, a
 * route to an internet gateway, …), as a violation keeps it (`exposureChange`) and its message says it:
 * "now reachable from the internet through i-0abc (web-1, 3.248.1.9) since 10:02 — alice associated
 * 3.248.1.9 with i-0abc".
 */
export interface ExposureChange {
  direction: 'rose' | 'fell';
  /** The class recorded before (null: none was). */
  from: ExposureClass | null;
  to: ExposureClass;
  /** The new exposure's reason. */
  reason: string;
  /** When the call was made (ISO). */
  since: string;
  /** Who made it, as people read a principal ("alice", "Admin/alice"). */
  by: string;
  /** What the call did, after the name: "associated 3.248.1.9 with i-0abc". */
  what: string;
  /** The CloudTrail event (or scan) that told. */
  eventId: string;
}
