import { randomUUID } from 'node:crypto';
import { keys, type StoredItem, tryTransition } from '../kernel/state';
import { plusSeconds } from '../kernel/time';
import { type AlertDeps, type PostOutcome, postAlert, postAlertOutcome } from './alerts';
import { BURST_WINDOW_SECONDS, fillDigest, groupBacklog, isBurst, type WaitingAlert } from './digest-plan';
import { postDigestOutcome, startDigest } from './digests';
import type { AlertItem, DigestItem, PosterLeaseItem, ViolationItem } from './items';
import { type NotifyPacing, Pacer } from './pacing';
import type { DigestView } from './ports';

/**
 * One poster per channel at a time drains a burst: whoever holds the channel's lease (a detection that
 * found a burst, or the sweeper) posts everything waiting for it, as digests while the backlog is a burst
 * and one alert at a time otherwise, at Slack's pace, then lets go.
 */

/** Deps of posting, with the pace a detection keeps when it drains a burst itself. */
export interface PosterDeps extends AlertDeps {
  posting?: NotifyPacing;
}

/** A detection drains a burst for at most this long of its 60 s (the sweeper keeps its own budget). */
export const DRAIN_PACING: NotifyPacing = { minIntervalMs: 1100, budgetMs: 30_000 };
/** How long a poster's hold on a channel lasts: past its budget plus one slow call. */
export const POSTER_LEASE_SECONDS = 90;
/** Alerts of one (principal, region) group read to plan one digest (a digest holds far fewer rules). */
const GROUP_READ_LIMIT = 100;
/** Waiting alerts read per look at the backlog. */
const BACKLOG_READ_LIMIT = 1000;

/** The channel an alert goes to: the one its route chose when it was raised (slack.routes), else the alert channel. */
export function channelFor(deps: Pick<AlertDeps, 'config'>, alert?: Pick<AlertItem, 'channel'>): string {
  return alert?.channel ?? deps.config.slack.alertChannel;
}

/**
 * The alerts waiting to be posted to `channel` now or within the burst window, oldest first. `via` is the
 * index the caller may read: the sweeper the due index, detection the status index.
 */
export async function waitingAlerts(
  deps: AlertDeps,
  channel: string,
  now: Date,
  via: 'due' | 'status',
): Promise<AlertItem[]> {
  const until = plusSeconds(now, BURST_WINDOW_SECONDS);
  const items =
    via === 'due'
      ? await deps.store.queryDue<StoredItem>('NOTIFY', until, BACKLOG_READ_LIMIT)
      : await deps.store.queryByStatus<StoredItem>('alert', 'UNNOTIFIED', BACKLOG_READ_LIMIT);
  return items
    .filter(
      (i): i is AlertItem =>
        i.type === 'alert' &&
        i.status === 'UNNOTIFIED' &&
        typeof i.dueAt === 'string' &&
        i.dueAt <= until &&
        channelFor(deps, i as AlertItem) === channel,
    )
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.alertId.localeCompare(b.alertId));
}

/**
 * A detection's alert: posted at once as always, unless the channel's backlog is a burst; then it waits
 * with the rest and this detection tries to become the channel's poster and drain the backlog as digests.
 * True when this call saw the alert posted.
 */
export async function announceAlert(
  deps: PosterDeps,
  alertId: string,
  alert?: Pick<AlertItem, 'channel'>,
  /** Its violations as the caller just stored them: a message of its own shows them without a read. */
  violations?: ViolationItem[],
): Promise<boolean> {
  const channel = channelFor(deps, alert);
  const waiting = canDigest(deps) ? await waitingAlerts(deps, channel, deps.clock(), 'status') : [];
  if (!isBurst(waiting.length)) return postAlert(deps, alertId, violations ? { violations } : {});
  deps.logger.info(
    { alertId, waiting: waiting.length },
    'a burst is waiting for the channel; posting digests',
  );
  const drained = await drainChannel(deps, channel, new Pacer(deps.posting ?? DRAIN_PACING), 'status');
  return drained.posted.has(alertId);
}

/** What a drain did: the alerts it saw posted, how many messages it posted, whether another held the channel. */
export interface DrainResult {
  busy: boolean;
  posted: Set<string>;
  messages: number;
}

/** True when the notifier can post digests. */
export function canDigest(deps: Pick<AlertDeps, 'notifier'>): boolean {
  return !!(deps.notifier.postDigest && deps.notifier.fitsDigest);
}

/**
 * Takes the channel's lease and posts what waits for it until nothing does or the pacer's budget is spent;
 * lets go, and looks once more (an alert stored just before the lease was let go is not left behind).
 * Returns `busy` when another poster holds the channel: it posts them.
 */
export async function drainChannel(
  deps: AlertDeps,
  channel: string,
  pacer: Pacer,
  via: 'due' | 'status',
): Promise<DrainResult> {
  const result: DrainResult = { busy: false, posted: new Set(), messages: 0 };
  const holder = randomUUID();
  const tried = new Set<string>();
  for (let round = 0; round < 2; round++) {
    const lease = await claimLease(deps, channel, holder);
    if (!lease) {
      result.busy = round === 0;
      return result;
    }
    try {
      await drainHeld(deps, channel, pacer, via, result, tried);
    } finally {
      await tryTransition(deps.store, {
        key: keys.poster(channel),
        from: ['HELD'],
        expectVersion: lease.version,
        to: 'FREE',
        remove: ['holder', 'leaseUntil'],
        due: null,
        audit: null,
      });
    }
    if (!pacer.open) break;
    const left = (await waitingAlerts(deps, channel, deps.clock(), via)).filter((a) => !tried.has(a.alertId));
    if (left.length === 0) break;
  }
  return result;
}

async function claimLease(deps: AlertDeps, channel: string, holder: string): Promise<PosterLeaseItem | null> {
  const key = keys.poster(channel);
  const now = deps.clock();
  const leaseUntil = plusSeconds(now, POSTER_LEASE_SECONDS);
  const current = await deps.store.get<PosterLeaseItem>(key);
  if (!current) {
    const item: PosterLeaseItem = {
      ...key,
      type: 'poster',
      status: 'HELD',
      version: 1,
      channel,
      holder,
      leaseUntil,
      createdAt: now.toISOString(),
    };
    return (await deps.store.createAll([item as unknown as Record<string, unknown>], [])) ? item : null;
  }
  if (current.status === 'HELD' && (current.leaseUntil ?? '') > now.toISOString()) return null;
  // Free, or held by a poster whose lease ran out (it died): taken at the version read, by one caller.
  return tryTransition<PosterLeaseItem>(deps.store, {
    key,
    from: [current.status],
    expectVersion: current.version,
    to: 'HELD',
    set: { holder, leaseUntil },
    due: null,
    audit: null,
  });
}

async function drainHeld(
  deps: AlertDeps,
  channel: string,
  pacer: Pacer,
  via: 'due' | 'status',
  result: DrainResult,
  tried: Set<string>,
): Promise<void> {
  // Digests Slack refused with a rate limit: posted again first, once Slack's wait is over.
  const refused: string[] = [];
  // Once a burst, the whole backlog goes as digests, its tail too (not as single messages).
  let burst = false;
  for (;;) {
    if (!pacer.open) return;
    const waiting = (await waitingAlerts(deps, channel, deps.clock(), via)).filter(
      (a) => !tried.has(a.alertId),
    );
    const again = await nextRefused(deps, refused);
    if (waiting.length === 0 && !again) return;
    let outcome: PostOutcome;
    let carried: string[];
    // An alert whose earlier post may have reached Slack is posted alone: its post looks for that message first.
    const nowIso = deps.clock().toISOString();
    burst ||= canDigest(deps) && isBurst(waiting.length);
    const single = again
      ? null
      : (waiting.find((a) => (!burst || a.postUncertainSince) && (a.dueAt ?? '') <= nowIso) ?? null);
    // Outside a burst only alerts due now are posted (one refused by Slack waits as long as it asked).
    if (!again && !single && !burst) return;
    if (again) {
      if (!(await pacer.turn())) return;
      carried = again.alertIds;
      outcome = await postDigestOutcome(deps, again.digestId);
      if (outcome === 'rate-limited') refused.push(again.digestId);
    } else if (single) {
      if (!(await pacer.turn())) return;
      carried = [single.alertId];
      outcome = await postAlertOutcome(deps, single.alertId);
      // Rate-limited, it waits with the rest (due when Slack said); otherwise it is not tried again here.
      if (outcome !== 'rate-limited') tried.add(single.alertId);
    } else {
      const next = await planNextDigest(deps, channel, waiting);
      if (!next) return;
      if (!(await pacer.turn())) return;
      for (const w of next.alerts) tried.add(w.alert.alertId);
      carried = next.alerts.map((w) => w.alert.alertId);
      if (next.alone) {
        outcome = await postAlertOutcome(deps, carried[0]!);
        if (outcome === 'rate-limited') tried.delete(carried[0]!);
      } else {
        const digest = await startDigest(deps, channel, next.group, next.alerts);
        outcome = digest
          ? await postDigestOutcome(deps, digest.digestId, { claimed: digest })
          : 'not-claimable';
        if (digest && outcome === 'rate-limited') refused.push(digest.digestId);
      }
    }
    pacer.done(outcome === 'rate-limited' ? 'rate-limited' : 'ok');
    if (outcome === 'posted') {
      result.messages++;
      for (const id of carried) result.posted.add(id);
    }
    // Slack is failing (not only busy): the sweeps retry with backoff.
    if (outcome === 'failed') return;
  }
}

/**
 * The first refused digest whose wait Slack asked for is over (taken off the list), if any; digests no
 * longer waiting (a sweep posted them) leave the list.
 */
async function nextRefused(deps: AlertDeps, refused: string[]): Promise<DigestItem | null> {
  const now = deps.clock().toISOString();
  for (const id of [...refused]) {
    const digest = await deps.store.get<DigestItem>(keys.digest(id));
    if (digest?.status !== 'UNNOTIFIED') refused.splice(refused.indexOf(id), 1);
    else if ((digest.dueAt ?? '') <= now) {
      refused.splice(refused.indexOf(id), 1);
      return digest;
    }
  }
  return null;
}

/**
 * The next message of a burst: the group of the longest-waiting alert, filled worst-first with whole
 * alerts as far as the notifier says a digest fits (every line counted with its buttons).
 */
async function planNextDigest(
  deps: AlertDeps,
  channel: string,
  waiting: AlertItem[],
): Promise<{ group: { principal: string; region: string }; alerts: WaitingAlert[]; alone: boolean } | null> {
  // An alert whose earlier post may have reached Slack is never put in a digest (it might show twice).
  const candidates = waiting.filter((a) => !a.postUncertainSince);
  const [first] = groupBacklog(candidates.map((alert) => ({ alert, violations: [] })));
  if (!first) return null;
  const alerts = first.alerts.slice(0, GROUP_READ_LIMIT).map((w) => w.alert);
  const loaded: WaitingAlert[] = await Promise.all(
    alerts.map(async (alert) => ({
      alert,
      violations: (
        await Promise.all(alert.violationIds.map((id) => deps.store.get<ViolationItem>(keys.violation(id))))
      ).filter((v): v is ViolationItem => v !== null),
    })),
  );
  const group = { principal: first.principal, region: first.region, alerts: loaded };
  const fits = (violations: ViolationItem[]) =>
    deps.notifier.fitsDigest?.(prospectiveView(deps, channel, group, violations)) ?? false;
  const { carried, alone } = fillDigest(group, fits);
  if (alone) return { group, alerts: [alone], alone: true };
  // A group of one alert is shown as that alert's own message, as outside a burst.
  if (carried.length === 1) return { group, alerts: carried, alone: true };
  return carried.length > 0 ? { group, alerts: carried, alone: false } : null;
}

/** A digest as it would be shown with every line still pending: the most it can ever hold. */
function prospectiveView(
  deps: AlertDeps,
  channel: string,
  group: { principal: string; region: string; alerts: WaitingAlert[] },
  violations: ViolationItem[],
): DigestView {
  const now = deps.clock();
  const ids = new Set(violations.map((v) => v.alertId));
  const digest: DigestItem = {
    ...keys.digest('digest-planned'),
    type: 'digest',
    status: 'POSTED',
    version: 1,
    digestId: 'digest-00000000-0000-0000-0000-000000000000',
    channel,
    principal: group.principal,
    region: group.region,
    alertIds: [...ids],
    violationIds: violations.map((v) => v.violationId),
    notifyAttempts: 0,
    createdAt: now.toISOString(),
  };
  return {
    digest,
    alerts: group.alerts.filter((w) => ids.has(w.alert.alertId)).map((w) => w.alert),
    violations: violations.map((v) => ({ ...v, status: 'PENDING' })),
    accountAliases: deps.config.accounts.aliases,
    now,
  };
}
