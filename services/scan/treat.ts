import { alertThread, tellBackstop } from '../backstop/backstop';
import type { ExposureClass } from '../exposure/classify';
import { gradeFindings } from '../exposure/grade';
import { regradeGroups } from '../exposure/regrade';
import { keys } from '../kernel/state';
import type { RuleFacts } from '../shared/model';
import type { AwsTarget, GroupInfo, PrefixListReader } from '../shared/ports';
import { announceAlert } from '../violations/channel-poster';
import type { AlertItem } from '../violations/items';
import { judgeGroup } from './judge-group';
import { exposureRose, scanCause } from './plan';
import type { ScanDeps } from './ports';
import { type GroupRaise, raiseGroup } from './raise';

// What the scan does with one group's rules, the way event detection treats an event's: judged (tags by
// who set them), graded by the group's exposure, raised with their backstops, announced (digests for a
// burst), and re-graded when the group's exposure rose above what sg-warden recorded for its rules.

/** One group's outcome in a wave of the scan. */
export interface ScannedGroup extends GroupRaise {
  groupId: string;
  /** The group's exposure rose above what was recorded for its open or kept rules: re-grade it. */
  rose: boolean;
}

/** Judges, grades and raises one group's rules (nothing is posted: see `announceRaised`). */
export async function scanGroup(
  deps: ScanDeps,
  runId: string,
  target: AwsTarget,
  group: GroupInfo,
  rules: readonly RuleFacts[],
  prefixLists: PrefixListReader,
): Promise<ScannedGroup> {
  const policy = deps.config.policy;
  const judged = await judgeGroup({ state: deps, prefixLists }, policy, target, group, rules, deps.clock());
  // The group's exposure steps each finding's severity (policy.exposure): one lookup per group per
  // invocation, through the same lookup and cache as detection's, in the group's account and region.
  const graded = await gradeFindings(deps.exposure, target, judged.findings, policy, deps.clock);
  const raised = await raiseGroup(deps, runId, target, group, graded);
  let now: ExposureClass | null = graded[0]?.exposure?.exposure ?? null;
  if (now === null && judged.kept.length > 0 && deps.exposure && policy.exposure.enabled)
    now = (await deps.exposure.exposureOf(target, group.groupId)).exposure;
  return { ...raised, groupId: group.groupId, rose: exposureRose(now, raised.open, judged.kept) };
}

/**
 * Posts the alerts a wave raised as detection posts an event's (`announceAlert`): each at once as its own
 * message, unless the channel has a burst waiting (a first scan finding hundreds of groups), then as
 * digests. Rules without a backstop are told in their alert's thread afterwards.
 */
export async function announceRaised(deps: ScanDeps, raised: readonly ScannedGroup[]): Promise<void> {
  for (const { alert } of raised) {
    if (!alert) continue;
    // A drain started by an earlier alert of the wave may have posted this one already.
    const current = await deps.store.get<AlertItem>(keys.alert(alert.alertId));
    if (current?.status === 'UNNOTIFIED') await announceAlert(deps, alert.alertId, current);
  }
  for (const { alert, unarmed } of raised) {
    if (!alert || unarmed.length === 0) continue;
    const where = await alertThread(deps, alert.alertId);
    for (const note of unarmed) await tellBackstop(deps, where, note);
  }
}

/**
 * Re-grades the groups whose exposure rose (exposure/regrade.ts, the one entry point for events and the
 * scan): pending violations raised, exceptions granted below internet ended and the rule asked again in its
 * thread. A missed event of the change is so caught at the next scan.
 */
export async function regradeRisen(
  deps: ScanDeps,
  runId: string,
  target: AwsTarget,
  scanned: readonly ScannedGroup[],
): Promise<void> {
  const exposure = deps.exposure;
  const risen = scanned.filter((g) => g.rose).map((g) => g.groupId);
  if (!exposure || risen.length === 0) return;
  deps.logger.info({ runId, ...target, groups: risen }, 'scan found groups whose exposure rose; re-grading');
  await regradeGroups({ ...deps, exposure }, target, risen, scanCause(runId, deps.clock().toISOString()));
}
