import type { AuditEntry } from '../kernel/audit';
import type { Metrics } from '../shared/metrics';

/**
 * Most of sg-warden's metrics are derived here, in one place, from the audit entries every state change
 * writes (the state store calls this for each entry once it is stored): the features never call the
 * metrics port themselves. States are matched by name, so a feature that adds a state adds no metric
 * until it is named here.
 */

/** Violation states that end a decision (the rule revoked, kept, gone, or given up on). */
const DECIDED = new Set(['REVOKED', 'AUTO_REVOKED', 'KEPT', 'GONE', 'RESOLVED', 'FAILED', 'DRY_RUN']);
/** Decisions whose time from the alert is worth a graph: a person's or the clock's answer. */
const TIMED = new Set(['REVOKED', 'AUTO_REVOKED', 'KEPT']);
/** Grant states worth counting as they are entered. */
const GRANT_OUTCOMES = new Set(['ACTIVE', 'EXPIRED', 'REVOKED', 'FAILED', 'REVOKE_FAILED']);
/** Run states a run ends in. */
const RUN_OUTCOMES = new Set([
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
  'EXPIRED',
  'CANCELLED',
  'SEND_FAILED',
  'SEND_UNKNOWN',
]);

/**
 * How a violation was found: `event` (its CloudTrail event), `reopen` (a kept rule whose exception ran
 * out), or what the entry says (`details.foundBy`, e.g. `scan` from a periodic scan).
 */
function foundBy(entry: AuditEntry): string {
  const said = entry.details?.foundBy;
  if (typeof said === 'string' && said) return said;
  return entry.action === 'detect' ? 'event' : entry.action;
}

function seconds(from: unknown, to: string): number | null {
  if (typeof from !== 'string') return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : null;
}

/**
 * Records the metrics one stored audit entry stands for. `item` is the item as it is after the change
 * (when the store has it): it dates the alert, for the time to a decision.
 */
export function recordAudit(metrics: Metrics, entry: AuditEntry, item?: Record<string, unknown>): void {
  if (entry.action === 'end-sessions' || entry.action === 'sessions-ended') {
    // Sessions that should have been ended and were not (not sent, refused, or an instance gave no count).
    if (entry.result !== 'ok') metrics.add('SessionEndFailures', 1);
    const ended = entry.details?.ended;
    if (typeof ended === 'number') metrics.add('SessionsEnded', ended, { subject: entry.subjectType });
    return;
  }
  // Reminders and escalations change no state: counted by outcome; one given up on raises an alarm.
  if (entry.action === 'remind' || entry.action === 'escalate') {
    metrics.add('Reminders', 1, { kind: entry.action, outcome: entry.result });
    if (entry.result === 'error') metrics.add('ReminderFailures', 1);
    return;
  }
  // A refused request changed nothing; a failure that moved an item (e.g. to FAILED) did.
  if (entry.result === 'refused' || !entry.toState || entry.fromState === entry.toState) return;
  const to = entry.toState;
  // The backstop's schedule did the sweeper's work: counted apart, and alarmed ("the sweeper was late").
  if (entry.actorType === 'backstop') metrics.add('BackstopFired', 1);
  // Asking a change's author (services/actors): on the alert's trail, told apart by the action.
  if (entry.action === 'ask-actor' || entry.action === 'actor-answer') {
    metrics.add('ActorAsks', 1, { outcome: to });
    return;
  }
  switch (entry.subjectType) {
    case 'violation': {
      if (entry.fromState === null) {
        const severity = entry.details?.severity;
        metrics.add('ViolationsRaised', 1, {
          severity: typeof severity === 'string' ? severity : 'unknown',
          foundBy: foundBy(entry),
        });
        return;
      }
      if (!DECIDED.has(to)) return;
      metrics.add('Decisions', 1, { outcome: to, actorType: entry.actorType });
      if (to === 'AUTO_REVOKED') metrics.add('AutoRevokes', 1);
      if (to === 'FAILED') metrics.add('RevokeFailures', 1);
      if (TIMED.has(to)) {
        const took = seconds(item?.createdAt, entry.at);
        if (took !== null) metrics.add('DecisionTime', took, { outcome: to });
      }
      return;
    }
    case 'grant': {
      if (!GRANT_OUTCOMES.has(to)) return;
      metrics.add('Grants', 1, { outcome: to });
      if (to === 'REVOKE_FAILED') metrics.add('RevokeFailures', 1);
      return;
    }
    case 'run': {
      if (RUN_OUTCOMES.has(to)) metrics.add('Runs', 1, { outcome: to });
      return;
    }
    case 'alert': {
      // How long people waited to see it (a burst drained as digests, or Slack failing, shows here).
      const took = to === 'POSTED' ? seconds(item?.createdAt, entry.at) : null;
      if (took !== null) metrics.add('AlertPostDelay', took);
      return;
    }
    case 'digest': {
      if (to === 'POSTED') metrics.add('Digests', 1);
      return;
    }
    default:
      return;
  }
}
