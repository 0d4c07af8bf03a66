import { auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import { keys, tryTransition } from '../kernel/state';
import type { Finding } from '../shared/model';
import type { AwsTarget, GroupInfo } from '../shared/ports';
import { postAlert } from '../violations/alerts';
import type { AlertItem, ViolationItem } from '../violations/items';
import { freeToRaise, storeClaimed } from '../violations/rule-claims';
import { planScanAlert, scanDetectAudit } from './plan';
import type { ScanDeps } from './ports';

/** What raising one group's findings came to. */
export interface GroupRaise {
  raised: number;
  /** Findings whose rule is already an open violation (an event, an earlier scan, a re-ask). */
  known: number;
}

/**
 * Raises a group's findings through the same flow as an event's: one alert for the group, one PENDING
 * violation per rule not already open (each written with its rule's claim, so an event racing the scan
 * for a rule raises it once), posted now; a post that fails is left due for the sweeper.
 */
export async function raiseGroup(
  deps: ScanDeps,
  runId: string,
  target: AwsTarget,
  group: GroupInfo,
  findings: readonly Finding[],
): Promise<GroupRaise> {
  if (findings.length === 0) return { raised: 0, known: 0 };
  const { store, logger } = deps;
  const nowIso = deps.clock().toISOString();
  const planned = planScanAlert(runId, target, group, findings, nowIso);
  const { free } = await freeToRaise(store, planned.violations);
  let known = findings.length - free.length;
  if (free.length === 0) return { raised: 0, known };

  const existing = await store.get<AlertItem>(keys.alert(planned.alert.alertId));
  if (existing && existing.status !== 'STORING') {
    // This run judged the group before it was cut off: its alert is stored already.
    return { raised: 0, known: known + free.length };
  }
  const alert: AlertItem = existing ?? { ...planned.alert, violationIds: free.map((v) => v.violationId) };
  if (!existing && !(await store.createAll([alert as unknown as Record<string, unknown>], []))) {
    // Another invocation of this run is on the group: it finishes it.
    return { raised: 0, known: known + free.length };
  }
  const stored: ViolationItem[] = [];
  for (const v of free) {
    const outcome = await storeClaimed(store, v, scanDetectAudit(v, runId, nowIso), nowIso);
    if (outcome.kind === 'stored') stored.push(v);
    else known++;
  }
  if (stored.length === 0) return { raised: 0, known };
  const moved = await tryTransition(store, {
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
  if (!moved) return { raised: 0, known: known + stored.length };
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
  await postAlert(deps, alert.alertId);
  return { raised: stored.length, known };
}
