import { alertThread, armBackstop, tellBackstop } from '../backstop/backstop';
import { dueViolation } from '../backstop/plan';
import { gradeFindings } from '../exposure/grade';
import { keys, tryTransition } from '../kernel/state';
import { alertRouteFacts, routeFor } from '../routing/routes';
import { postAlert } from '../violations/alerts';
import type { ExceptionItem } from '../violations/items';
import { storeClaimed } from '../violations/rule-claims';
import { currentViolation, type DecisionDeps, evaluateLive, liveGroupTags, readLiveRule } from './deps';
import { type ExpiryFinding, planExpire, planReopen, type Reopening, UNKNOWN_ACTOR } from './plans';
import { targetOf } from './states';

export interface ExpiryResult {
  outcome: 'not-due' | 'expired' | 'reopened' | 'lost-race';
  alertId?: string;
  violationId?: string;
}

/**
 * EXCEPTION_EXPIRY: an ACTIVE exception ran out. If the rule still exists and still breaks the policy,
 * it goes back to a fresh PENDING decision with its own alert message and deadline (never silently kept
 * forever), graded by its group's exposure as a new finding is; if it is gone or no longer violates,
 * the exception just expires. Safe to run twice: the re-opened alert and violation have IDs derived from
 * the exception, and the expiry is conditional.
 */
export async function expireException(deps: DecisionDeps, seen: ExceptionItem): Promise<ExpiryResult> {
  const now = deps.clock();
  const ex = await deps.store.get<ExceptionItem>(keys.exception(seen.fingerprint));
  if (ex?.status !== 'ACTIVE' || ex.expiresAt === null || new Date(ex.expiresAt) > now)
    return { outcome: 'not-due' };
  const target = targetOf(ex);
  const kept = await currentViolation(deps, ex.violationId);
  const live = await readLiveRule(deps.ec2, target, ex.rule);
  const tags = live ? await liveGroupTags(deps, target, live.groupId) : null;
  const evaluated = live ? await evaluateLive(deps, target, live, kept?.actor ?? null, tags) : null;
  // Asked again at the severity its group's exposure gives now (policy.exposure), like a new finding.
  const [graded] = evaluated
    ? await gradeFindings(deps.exposure, target, [evaluated], deps.config.policy, deps.clock)
    : [];
  const finding = graded?.finding ?? null;
  let reopened: Reopening | null = null;
  let heldBy: string | null = null;
  if (finding) {
    // Asked again where the routes send it now (by the group's tags as EC2 has them).
    const route = routeFor(
      deps.config,
      alertRouteFacts({
        account: ex.account,
        region: ex.region,
        actor: kept?.actor ?? UNKNOWN_ACTOR,
        tags,
        severities: [finding.severity],
      }),
    );
    reopened = planReopen(ex, kept, finding, now.toISOString(), route, graded?.exposure);
    const [violationAudit, ...alertAudits] = reopened.audits;
    // The rule's claim decides against the scan or an event raising it at the same moment.
    const claim = await storeClaimed(deps.store, reopened.violation, violationAudit!, now.toISOString());
    if (claim.kind === 'held') {
      heldBy = claim.by.violationId;
      reopened = null;
    } else {
      await deps.store.createAll([reopened.alert as unknown as Record<string, unknown>], alertAudits);
    }
  }
  const found: ExpiryFinding = !live
    ? 'gone'
    : heldBy
      ? { reopenedAs: heldBy }
      : !reopened
        ? 'no-longer-violates'
        : { reopenedAs: reopened.violation.violationId };
  const expired = await tryTransition(deps.store, planExpire(ex, found, now));
  if (!expired) return { outcome: 'lost-race' };
  if (!reopened) return { outcome: 'expired' };
  const armed = await armBackstop(deps, dueViolation(reopened.violation), 'later');
  await postAlert(deps, reopened.alert.alertId);
  if (armed.kind === 'failed')
    await tellBackstop(deps, await alertThread(deps, reopened.alert.alertId), armed.note);
  return {
    outcome: 'reopened',
    alertId: reopened.alert.alertId,
    violationId: reopened.violation.violationId,
  };
}
