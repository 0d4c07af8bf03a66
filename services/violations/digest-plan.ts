import { SEVERITIES } from '../shared/model';
import type { AlertItem, ViolationItem, ViolationStatus } from './items';

/**
 * When waiting alerts become digests, and how a burst is cut into messages. Pure: no I/O.
 *
 * Slack lets about one message a second out to a channel. A burst is when more alerts wait to be posted
 * to one channel than half of what Slack lets out in the next ten seconds (the other half is left for
 * the message updates people's decisions make): then they go out as digests, many to a message.
 */
export const SLACK_MESSAGES_PER_SECOND = 1;
/** The window a backlog is judged over: alerts due to be posted within it count as waiting. */
export const BURST_WINDOW_SECONDS = 10;
/** More alerts than this waiting for one channel within the window is a burst (5). */
export const BURST_THRESHOLD = Math.floor((SLACK_MESSAGES_PER_SECOND * BURST_WINDOW_SECONDS) / 2);

/** True when `waiting` alerts for one channel are more than Slack's pace lets out in the window. */
export function isBurst(waiting: number): boolean {
  return waiting > BURST_THRESHOLD;
}

/** An alert waiting to be posted, with its violations (in the alert's order). */
export interface WaitingAlert {
  alert: AlertItem;
  violations: ViolationItem[];
}

/** The alerts of a backlog that share a principal and a region: what one digest may carry. */
export interface BacklogGroup {
  principal: string;
  region: string;
  alerts: WaitingAlert[];
}

const rank = (v: Pick<ViolationItem, 'severity'>) => {
  const i = SEVERITIES.indexOf(v.severity);
  return i < 0 ? SEVERITIES.length : i;
};

/** Worst severity first; among equals, the oldest event first (a stable order for the lines). */
export function worstFirst(violations: readonly ViolationItem[]): ViolationItem[] {
  return [...violations].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      a.eventTime.localeCompare(b.eventTime) ||
      a.violationId.localeCompare(b.violationId),
  );
}

const groupKey = (alert: AlertItem) => `${alert.actor.arn}\u0000${alert.region}`;

/**
 * The backlog by (principal, region), the group holding the longest-waiting alert first, so that no
 * group waits behind the others. Within a group, alerts keep their waiting order.
 */
export function groupBacklog(waiting: readonly WaitingAlert[]): BacklogGroup[] {
  const groups = new Map<string, BacklogGroup>();
  for (const w of waiting) {
    const key = groupKey(w.alert);
    let group = groups.get(key);
    if (!group) {
      group = { principal: w.alert.actor.arn, region: w.alert.region, alerts: [] };
      groups.set(key, group);
    }
    group.alerts.push(w);
  }
  return [...groups.values()];
}

/**
 * The alerts of a group that go into one digest: whole alerts (a button is bound to its alert's
 * message, so an alert's rules stay together), the worst first, as many as `fits` accepts. An alert
 * too big for a digest on its own is `alone`: it goes out as its own message, as outside a burst.
 */
export function fillDigest(
  group: BacklogGroup,
  fits: (violations: ViolationItem[]) => boolean,
): { carried: WaitingAlert[]; alone: WaitingAlert | null } {
  const byWorst = [...group.alerts].sort(
    (a, b) =>
      Math.min(...a.violations.map(rank)) - Math.min(...b.violations.map(rank)) ||
      a.alert.createdAt.localeCompare(b.alert.createdAt),
  );
  const carried: WaitingAlert[] = [];
  for (const w of byWorst) {
    const next = [...carried, w].flatMap((c) => c.violations);
    if (fits(next)) carried.push(w);
    else if (carried.length === 0) return { carried: [], alone: w };
  }
  return { carried, alone: null };
}

/** Still to be decided (a claim in flight counts: it may yet fail). */
const PENDING: readonly ViolationStatus[] = ['PENDING', 'REVOKING', 'REVOKE_RETRY'];
const REVOKED: readonly ViolationStatus[] = ['REVOKED', 'AUTO_REVOKED'];

/** What a digest's header counts. `other`: gone, resolved, failed or dry run. */
export interface DigestCounts {
  pending: number;
  revoked: number;
  kept: number;
  other: number;
}

export function digestCounts(violations: readonly Pick<ViolationItem, 'status'>[]): DigestCounts {
  const counts: DigestCounts = { pending: 0, revoked: 0, kept: 0, other: 0 };
  for (const v of violations) {
    if (PENDING.includes(v.status)) counts.pending++;
    else if (REVOKED.includes(v.status)) counts.revoked++;
    else if (v.status === 'KEPT') counts.kept++;
    else counts.other++;
  }
  return counts;
}

/** How late a post may be before its violations' deadlines count from it rather than from detection. */
export const LATE_POST_SECONDS = 60;

/**
 * The deadline a pending violation gets when its alert reached the channel `postedAt` (ISO): its full
 * time from then, when posting was more than a minute late; otherwise null (the deadline stands).
 */
export function visibleDeadline(
  v: Pick<ViolationItem, 'status' | 'deadline' | 'createdAt'>,
  postedAt: string,
): string | null {
  if (v.status !== 'PENDING' || !v.deadline) return null;
  const created = Date.parse(v.createdAt);
  const posted = Date.parse(postedAt);
  if (!(posted - created > LATE_POST_SECONDS * 1000)) return null;
  const timeoutMs = Date.parse(v.deadline) - created;
  if (!(timeoutMs > 0)) return null;
  const moved = new Date(posted + timeoutMs).toISOString();
  return moved > v.deadline ? moved : null;
}

/** The violations as their message shows them when posted at `postedAt`: late ones with their moved deadline. */
export function withVisibleDeadlines(
  violations: readonly ViolationItem[],
  postedAt: string,
): ViolationItem[] {
  return violations.map((v) => {
    const deadline = visibleDeadline(v, postedAt);
    return deadline ? { ...v, deadline } : v;
  });
}
