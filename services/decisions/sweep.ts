import { readAhead } from '../kernel/read-ahead';
import { type DueKind, type ItemKey, keys, type StateStore, type StoredItem } from '../kernel/state';
import type { DueHandler } from '../kernel/sweep';
import { ruleFingerprint } from '../shared/ids';
import type { AlertItem, ExceptionItem, ViolationItem } from '../violations/items';
import { requestMessageUpdate } from '../violations/message-updates';
import { type NotifyPacing, pacedNotifyHandler, UNPACED } from '../violations/post-sweep';
import type { DecisionDeps } from './deps';
import { expireException } from './exceptions';
import { type RevokeResult, reconcileRevoke, retryRevoke, revokeAtDeadline } from './revoke';

/** The deps on the sweep's clock, so leases, backoffs and new deadlines count from the sweep's `now`. */
function atTime(deps: DecisionDeps, now: Date): DecisionDeps {
  return { ...deps, clock: () => now };
}

/** A due violation's exception (by its rule as stored) and its alert. */
function pageKeys(violations: readonly ViolationItem[]): ItemKey[] {
  return violations.flatMap((v) =>
    v.type === 'violation' && v.rule
      ? [keys.exception(ruleFingerprint(v.account, v.region, v.rule)), keys.alert(v.alertId)]
      : [],
  );
}

/** Outcomes that changed nothing a message shows. */
const UNCHANGED: readonly RevokeResult['outcome'][] = ['not-found', 'not-pending', 'lost-race'];

/**
 * A sweep's revoke does not update its message itself: it marks the message (in the table) and the
 * sweep's NOTIFY pass updates each marked message once, at Slack's pace — one update per message per
 * sweep however many of its rules the wave revoked.
 */
async function revokeThenMark(
  deps: DecisionDeps,
  table: StateStore,
  seen: ViolationItem,
  revoke: (options: { refresh: false }) => Promise<RevokeResult>,
): Promise<void> {
  const result = await revoke({ refresh: false });
  if (UNCHANGED.includes(result.outcome)) return;
  // A page's read of the alert serves when it was posted then (it stays posted); one that was not yet
  // may have been posted since, before this change: read it again.
  const alert = await deps.store.get<AlertItem>(keys.alert(seen.alertId));
  await requestMessageUpdate(alert?.status === 'POSTED' ? deps : { ...deps, store: table }, seen.alertId);
}

/**
 * The sweeper's decision and alert work: RECONCILE, REVOKE_RETRY, DEADLINE, EXCEPTION_EXPIRY, and NOTIFY
 * last — revoking at a deadline must not wait behind a queue of alerts paced to Slack's rate limit.
 * Build one per sweep (NOTIFY's pacing counts from when it was built).
 */
export function decisionDueHandlers(
  deps: DecisionDeps,
  pacing: NotifyPacing = UNPACED,
): Partial<Record<DueKind, DueHandler>> {
  // Each group's tags read once for the sweep (the deadlines it acts on have all passed).
  const sweepDeps: DecisionDeps = { ...deps, sweepGroupTags: new Map() };
  // What a page of due violations reads besides themselves — their rules' exceptions and their alerts
  // (whose messages are marked) — read in one batch per page; every write still decides.
  let pageStore: StateStore = deps.store;
  const page = async (items: StoredItem[]) => {
    pageStore = deps.store;
    pageStore = await readAhead(deps.store, pageKeys(items as ViolationItem[]));
  };
  const revokeKind = (
    revoke: (at: DecisionDeps, v: ViolationItem, o: { refresh: false }) => Promise<RevokeResult>,
  ): DueHandler =>
    Object.assign(
      async (item: StoredItem, now: Date) => {
        const at = { ...atTime(sweepDeps, now), store: pageStore };
        await revokeThenMark(at, deps.store, item as ViolationItem, (o) =>
          revoke(at, item as ViolationItem, o),
        );
      },
      { page },
    );
  return {
    RECONCILE: revokeKind(reconcileRevoke),
    REVOKE_RETRY: revokeKind(retryRevoke),
    DEADLINE: revokeKind(revokeAtDeadline),
    EXCEPTION_EXPIRY: async (item, now) => {
      await expireException(atTime(deps, now), item as ExceptionItem);
    },
    NOTIFY: pacedNotifyHandler(deps, pacing),
  };
}
