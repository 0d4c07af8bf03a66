import type { Config } from '../config/config';
import { decidersFor } from '../decisions/deciders';
import { isOwnChange } from '../decisions/who-may';
import type { GrantItem } from '../grants/items';
import { liveGrants } from '../grants/list';
import type { StoredAuditEntry } from '../kernel/audit';
import type { StateStore } from '../kernel/state';
import type { RunItem } from '../runs/items';
import { specOf } from '../runs/spec';
import { approverRefusal } from '../runs/who-may';
import { type Directory, isAllowed } from '../shared/people';
import type { ViolationItem, ViolationStatus } from '../violations/items';

export interface HomeDeps {
  config: Config;
  store: StateStore;
  directory: Directory;
  clock: () => Date;
}

/** One pending violation on a Home tab. */
export interface HomeViolation {
  violation: ViolationItem;
  /** Whether the person is on the lists of who may revoke / keep it (the checks still run on a press). */
  mayRevoke: boolean;
  mayKeep: boolean;
}

/** What one person's Home tab shows: their own items only. */
export interface HomeContent {
  now: Date;
  userId: string;
  /** Open violations of changes their AWS identity made (decisions.principalToSlack). */
  caused: HomeViolation[];
  /** Pending violations of others that they may revoke or keep. */
  toDecide: HomeViolation[];
  /** Their grants whose rule may exist. */
  grants: GrantItem[];
  /** Runs waiting for an approval they may give. */
  runs: RunItem[];
  /** Their latest actions (the audit trail), newest first. */
  history: StoredAuditEntry[];
  /** How many of each list there were, beyond what is shown. */
  totals: { caused: number; toDecide: number };
}

/** Items one list shows (a Home view holds at most 100 blocks). */
export const HOME_LIST_LIMIT = 8;
/** Entries of the person's history shown, from at most HISTORY_DAYS days back. */
export const HISTORY_SHOWN = 8;
export const HISTORY_DAYS = 7;
const READ_LIMIT = 500;
const OPEN: readonly ViolationStatus[] = ['PENDING', 'REVOKING', 'REVOKE_RETRY'];
/** Audit actions that are bookkeeping, not something the person did. */
const BOOKKEEPING = new Set(['notify', 'status-read']);

/** The person's latest audited actions, reading day partitions backwards from today. */
async function historyOf(deps: HomeDeps, userId: string, now: Date): Promise<StoredAuditEntry[]> {
  const found: StoredAuditEntry[] = [];
  for (let days = 0; days < HISTORY_DAYS && found.length < HISTORY_SHOWN; days++) {
    const day = new Date(now.getTime() - days * 86_400_000).toISOString().slice(0, 10);
    const until = days === 0 ? now.toISOString() : `${day}T23:59:59.999Z`;
    for await (const entry of deps.store.auditSince(`${day}T00:00:00.000Z`, until)) {
      if (entry.actorId === userId && !BOOKKEEPING.has(entry.action)) found.push(entry);
    }
  }
  return found.sort((a, b) => b.entryId.localeCompare(a.entryId)).slice(0, HISTORY_SHOWN);
}

/**
 * Builds a person's Home tab from the table (status index and audit index; no scan): what they caused,
 * what they may decide, their grants, the runs waiting for them, and what they did lately.
 */
export async function loadHome(deps: HomeDeps, userId: string): Promise<HomeContent> {
  const now = deps.clock();
  const [violations, grants, awaiting, history] = await Promise.all([
    Promise.all(OPEN.map((s) => deps.store.queryByStatus<ViolationItem>('violation', s, READ_LIMIT))).then(
      (lists) => lists.flat(),
    ),
    liveGrants(deps, READ_LIMIT).then((all) => all.filter((g) => g.userId === userId)),
    deps.store.queryByStatus<RunItem>('run', 'AWAITING_APPROVAL', READ_LIMIT),
    historyOf(deps, userId, now),
  ]);
  // Soonest deadline first; notify-only (no deadline) last, oldest first among them.
  violations.sort(
    (a, b) =>
      (a.deadline ?? '9999').localeCompare(b.deadline ?? '9999') || a.createdAt.localeCompare(b.createdAt),
  );
  const caused: HomeViolation[] = [];
  const toDecide: HomeViolation[] = [];
  for (const v of violations) {
    const deciders = decidersFor(v, deps.config);
    const own = isOwnChange(deps, v, userId);
    if (!own && v.status !== 'PENDING') continue;
    const [mayRevoke, mayKeep] = await Promise.all([
      isAllowed(deciders.revokers, userId, deps.directory),
      isAllowed(deciders.approvers, userId, deps.directory),
    ]);
    if (own) caused.push({ violation: v, mayRevoke, mayKeep: false });
    else if (mayRevoke || mayKeep) toDecide.push({ violation: v, mayRevoke, mayKeep });
  }
  const runs: RunItem[] = [];
  for (const run of awaiting) {
    const refusal = await approverRefusal(deps.directory, run, specOf(deps.config, run), {
      id: userId,
      name: userId,
    });
    if (!refusal) runs.push(run);
  }
  grants.sort((a, b) => a.expiresAt.localeCompare(b.expiresAt));
  return {
    now,
    userId,
    caused: caused.slice(0, HOME_LIST_LIMIT),
    toDecide: toDecide.slice(0, HOME_LIST_LIMIT),
    grants: grants.slice(0, HOME_LIST_LIMIT),
    runs: runs.slice(0, HOME_LIST_LIMIT),
    history,
    totals: { caused: caused.length, toDecide: toDecide.length },
  };
}

/** The pending violations a Home shows with buttons (what a press on it may act on). */
export function shownViolationIds(content: HomeContent): string[] {
  return [...content.caused, ...content.toDecide]
    .filter((h) => h.violation.status === 'PENDING')
    .map((h) => h.violation.violationId);
}
