import type { DueHandler } from '../kernel/sweep';
import { type AlertDeps, postAlertOutcome } from './alerts';
import { canDigest, channelFor, drainChannel, waitingAlerts } from './channel-poster';
import { isBurst } from './digest-plan';
import { checkCarriedAlert, postDigestOutcome } from './digests';
import type { AlertItem, DigestItem } from './items';
import { updateDueMessage } from './message-updates';
import { type NotifyPacing, Pacer, UNPACED } from './pacing';

export { type NotifyPacing, UNPACED } from './pacing';

/**
 * NOTIFY for one sweep, per channel and at Slack's pace:
 * - alerts waiting to be posted (Slack did not take them, or their poster died mid-claim): when more wait
 *   for a channel than Slack lets out soon (a burst, digest-plan.ts), the sweep takes the channel's lease
 *   and posts them as digests; otherwise one at a time, at most one per `minIntervalMs`, within the
 *   sweep's budget; after a rate limit it backs off (paced) or stops (unpaced);
 * - digests waiting to be posted again (a rate limit, a failure, a poster that died);
 * - posted alerts and digests whose message waits for an update (marked by this sweep's decisions, or a
 *   failed update): each message updated once, paced separately (Slack limits updates on their own).
 * Runs on the sweep's clock. Build one per sweep: it remembers when it last posted to each channel.
 */
export function pacedNotifyHandler(deps: AlertDeps, pacing: NotifyPacing = UNPACED): DueHandler {
  const posts = new Map<string, Pacer>();
  const updates = new Map<string, Pacer>();
  const pacerFor = (pacers: Map<string, Pacer>, channel: string) => {
    let pacer = pacers.get(channel);
    if (!pacer) {
      pacer = new Pacer(pacing);
      pacers.set(channel, pacer);
    }
    return pacer;
  };
  /** Per channel: whether this sweep drained it as a burst (its single alerts are then left alone). */
  const drained = new Map<string, boolean>();
  const updated = new Set<string>();
  return async (item, now) => {
    const atNow: AlertDeps = { ...deps, clock: () => now };
    const channel = channelOf(atNow, item as AlertItem | DigestItem);
    if (item.status === 'POSTED') {
      // One update per message per sweep, at the channel's update pace.
      const message = `${item.pk}`;
      if (updated.has(message)) return;
      const pacer = pacerFor(updates, channel);
      if (!(await pacer.turn())) return;
      updated.add(message);
      const outcome = await updateDueMessage(atNow, item as AlertItem | DigestItem);
      pacer.done(outcome === 'rate-limited' ? 'rate-limited' : 'ok');
      return;
    }
    if (item.type === 'digest') {
      const digest = item as DigestItem;
      if (digest.status !== 'UNNOTIFIED' && digest.status !== 'POSTING') return;
      const pacer = pacerFor(posts, channel);
      if (!(await pacer.turn())) return;
      const outcome = await postDigestOutcome(
        atNow,
        digest.digestId,
        digest.status === 'POSTING' ? { staleClaim: digest } : {},
      );
      pacer.done(outcome === 'rate-limited' ? 'rate-limited' : 'ok');
      return;
    }
    const alert = item as AlertItem;
    // Claimed by a digest that has not carried it to the channel for a long while: the safety net.
    if (alert.status === 'POSTING' && alert.digestId) return checkCarriedAlert(atNow, alert);
    const pacer = pacerFor(posts, channel);
    if (!drained.has(channel)) {
      drained.set(channel, false);
      if (canDigest(atNow) && isBurst((await waitingAlerts(atNow, channel, now, 'due')).length)) {
        // A burst: drained as digests under the channel's lease (or left to the poster holding it).
        drained.set(channel, true);
        await drainChannel(atNow, channel, pacer, 'due');
      }
    }
    if (drained.get(channel) && alert.status === 'UNNOTIFIED') return;
    if (!(await pacer.turn())) return;
    const outcome = await postAlertOutcome(
      atNow,
      alert.alertId,
      alert.status === 'POSTING' ? { staleClaim: alert } : {},
    );
    pacer.done(outcome === 'rate-limited' ? 'rate-limited' : 'ok');
  };
}

function channelOf(deps: AlertDeps, item: AlertItem | DigestItem): string {
  return item.channel ?? channelFor(deps, item.type === 'alert' ? item : undefined);
}
