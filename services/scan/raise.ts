import { armBackstop } from '../backstop/backstop';
import { dueViolation } from '../backstop/plan';
import type { GradedFinding } from '../exposure/grade';
import { auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import { keys, tryTransition } from '../kernel/state';
import { alertRouteFacts, routeFor } from '../routing/routes';
import type { AwsTarget, GroupInfo } from '../shared/ports';
import type { AlertItem, ViolationItem } from '../violations/items';
import { freeToRaise, storeClaimed } from '../violations/rule-claims';
import { planScanAlert, SCAN_ACTOR, scanDetectAudit } from './plan';
import type { ScanDeps } from './ports';

/** What raising one group's findings came to. */
export interface GroupRaise {
  raised: number;
  /** Findings whose rule is already an open violation (an event, an earlier scan, a re-ask). */
  known: number;
  /** The open violations that hold those rules (what the scan's re-grade compares the exposure with). */
  open: ViolationItem[];
  /** The alert stored for the raised violations, to announce (null: nothing raised). */
  alert: AlertItem | null;
  /** Rules the clock will revoke whose backstop could not be made: told in the alert's thread once posted. */
  unarmed: string[];
}

const NOTHING: Omit<GroupRaise, 'known' | 'open'> = { raised: 0, alert: null, unarmed: [] };

/**
 * Raises a group's graded findings through the same flow as an event's: one alert for the group, one
 * PENDING violation per rule not already open (each written with its rule's claim, so an event racing the
 * scan for a rule raises it once) with the exposure it was graded by, each rule the clock will revoke given
 * its backstop before the alert counts as stored. Nothing is posted here: the caller announces the alerts
 * of a whole wave of groups (at once, or as digests when they are a burst); an alert left unposted is due
 * for the sweeper.
 */
export async function raiseGroup(
  deps: ScanDeps,
  runId: string,
  target: AwsTarget,
  group: GroupInfo,
  graded: readonly GradedFinding[],
): Promise<GroupRaise> {
  if (graded.length === 0) return { ...NOTHING, known: 0, open: [] };
  const { store, logger } = deps;
  const nowIso = deps.clock().toISOString();
  const planned = planScanAlert(
    runId,
    target,
    group,
    graded.map((g) => g.finding),
    nowIso,
    graded.map((g) => g.exposure),
    // Routed as detection routes an event's alert: by the group's tags, account, region and worst severity.
    routeFor(
      deps.config,
      alertRouteFacts({
        account: target.account,
        region: target.region,
        actor: SCAN_ACTOR,
        tags: group.tags,
        severities: graded.map((g) => g.finding.severity),
      }),
    ),
  );
  const { free, held } = await freeToRaise(store, planned.violations);
  const open = held.map((h) => h.by);
  let known = held.length;
  if (free.length === 0) return { ...NOTHING, known, open };

  const existing = await store.get<AlertItem>(keys.alert(planned.alert.alertId));
  if (existing && existing.status !== 'STORING') {
    // This run judged the group before it was cut off: its alert is stored already.
    return { ...NOTHING, known: known + free.length, open };
  }
  const alert: AlertItem = existing ?? { ...planned.alert, violationIds: free.map((v) => v.violationId) };
  if (!existing && !(await store.createAll([alert as unknown as Record<string, unknown>], []))) {
    // Another invocation of this run is on the group: it finishes it.
    return { ...NOTHING, known: known + free.length, open };
  }
  const stored: ViolationItem[] = [];
  for (const v of free) {
    const outcome = await storeClaimed(store, v, scanDetectAudit(v, runId, nowIso), nowIso);
    if (outcome.kind === 'stored') stored.push(v);
    else {
      known++;
      open.push(outcome.by);
    }
  }
  if (stored.length === 0) return { ...NOTHING, known, open };
  // As detection does: each rule the clock will revoke gets its backstop before the alert counts as stored
  // (a run that judges the group again after a crash arms again: the same names, so nothing doubles).
  const unarmed: string[] = [];
  for (const v of stored) {
    const armed = await armBackstop(deps, dueViolation(v), 'later');
    if (armed.kind === 'failed') unarmed.push(armed.note);
  }
  const moved = await tryTransition<AlertItem>(store, {
    key: keys.alert(alert.alertId),
    from: ['STORING'],
    to: 'UNNOTIFIED',
    set: { violationIds: stored.map((v) => v.violationId) },
    due: { kind: 'NOTIFY', at: nowIso },
    audit: auditEntry({ id: alert.alertId, type: 'alert' }, SYSTEM_ACTOR, {
      action: 'detect',
      fromState: null,
      toState: 'UNNOTIFIED',
      result: 'ok',
      details: { foundBy: 'scan', runId, violations: stored.map((v) => v.violationId) },
      at: nowIso,
    }),
  });
  if (!moved) return { ...NOTHING, known: known + stored.length, open };
  logger.info(
    {
      alertId: alert.alertId,
      groupId: group.groupId,
      account: target.account,
      region: target.region,
      violations: stored.length,
    },
    'scan raised violations',
  );
  return { raised: stored.length, known, open, alert: moved, unarmed };
}
