import { keys, tryTransition } from '../kernel/state';
import { type AlertDeps, refreshAlertMessageOutcome } from './alerts';
import { refreshDigestMessageOutcome, type UpdateOutcome } from './digest-refresh';
import type { AlertItem, DigestItem } from './items';

/**
 * Message updates at Slack's pace. The sweeper does not update a message per violation it decides: it
 * marks the message (the alert's, or its digest's) as waiting for an update — in the table, due NOTIFY, so
 * no restart loses it — and the sweep's NOTIFY pass updates each marked message once, paced.
 */

/**
 * Marks the message showing `alertId` as waiting for an update (only a posted one: an alert not yet
 * posted shows its violations as they are when it is). The mark is a conditional move that raises the
 * item's version, so a sweep updating the message meanwhile does not clear it.
 */
export async function requestMessageUpdate(deps: AlertDeps, alertId: string): Promise<void> {
  const alert = await deps.store.get<AlertItem>(keys.alert(alertId));
  if (alert?.status !== 'POSTED') return;
  const at = deps.clock().toISOString();
  const key = alert.digestId ? keys.digest(alert.digestId) : keys.alert(alertId);
  const item = alert.digestId ? await deps.store.get<DigestItem>(key) : alert;
  if (item?.status !== 'POSTED') return;
  // An earlier mark that is due later (a Retry-After) is brought forward: the update waits no longer.
  const dueAt = item.dueKind === 'NOTIFY' && item.dueAt && item.dueAt < at ? item.dueAt : at;
  await tryTransition(deps.store, {
    key,
    from: ['POSTED'],
    to: 'POSTED',
    set: { updatePendingSince: item.updatePendingSince ?? at },
    due: { kind: 'NOTIFY', at: dueAt },
    audit: null,
  });
}

/**
 * NOTIFY for a posted alert or digest: its message waits for an update (marked by a sweep, or a failed
 * update). Re-renders it once; when that worked, the mark is cleared — unless it was marked again
 * meanwhile (its version moved), so that update is not lost. A failed update stays due (when Slack
 * said, for a rate limit).
 */
export async function updateDueMessage(
  deps: AlertDeps,
  item: AlertItem | DigestItem,
): Promise<UpdateOutcome> {
  const outcome =
    item.type === 'digest'
      ? await refreshDigestMessageOutcome(deps, item.digestId)
      : await refreshAlertMessageOutcome(deps, item.alertId);
  if (outcome !== 'updated') return outcome;
  await tryTransition(deps.store, {
    key: item.type === 'digest' ? keys.digest(item.digestId) : keys.alert(item.alertId),
    from: ['POSTED'],
    expectVersion: item.version,
    to: 'POSTED',
    set: { refreshAttempts: 0 },
    remove: ['updatePendingSince'],
    due: null,
    audit: null,
  });
  return outcome;
}
