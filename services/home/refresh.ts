import { AsyncLocalStorage } from 'node:async_hooks';
import { decidersFor } from '../decisions/deciders';
import { isOwnChange } from '../decisions/who-may';
import type { AuditEntry } from '../kernel/audit';
import { keys } from '../kernel/state';
import type { DueHandler } from '../kernel/sweep';
import { backoffSeconds, plusSeconds } from '../kernel/time';
import type { RunItem } from '../runs/items';
import { specOf } from '../runs/spec';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';
import type { ViolationItem } from '../violations/items';
import { type HomeContent, type HomeDeps, loadHome, shownViolationIds } from './build';
import { type HomeItem, newHome } from './items';

/** Publishes a person's Home tab (Slack's views.publish); answers the view's ID. */
export interface HomePublisher {
  publish(userId: string, content: HomeContent): Promise<{ viewId: string }>;
}

export interface HomeRefreshDeps extends HomeDeps {
  logger: Logger;
  /** Counts publishes (HomeViews); none where the caller has no metrics. */
  metrics?: Metrics;
}

/**
 * People this container found without a Home (never opened it), and when: a change is not followed by a
 * read of their Home item for a minute. Opening a Home here forgets it at once; another container's
 * open is seen within the minute.
 */
const noHomeSince = new Map<string, number>();
const NO_HOME_TTL_MS = 60_000;

function knownWithoutHome(userId: string): boolean {
  const since = noHomeSince.get(userId);
  if (since === undefined) return false;
  if (Date.now() - since < NO_HOME_TTL_MS) return true;
  noHomeSince.delete(userId);
  return false;
}

/** Failed publishes after a change before a Home waits for its owner to open it again. */
const MAX_REFRESH_ATTEMPTS = 5;
/** People whose Home one change may rebuild (a user group of approvers is read, up to this many). */
const MAX_CONCERNED = 50;

/** Builds and publishes one person's Home, and records what it shows. Throws when Slack refuses. */
async function publishHome(
  deps: HomeRefreshDeps,
  publisher: HomePublisher,
  home: HomeItem,
): Promise<HomeContent> {
  const content = await loadHome(deps, home.userId);
  try {
    const { viewId } = await publisher.publish(home.userId, content);
    await deps.store.patch(
      keys.home(home.userId),
      {
        viewId,
        publishedAt: content.now.toISOString(),
        shownViolationIds: shownViolationIds(content),
        refreshAttempts: 0,
      },
      null,
    );
    deps.metrics?.add('HomeViews', 1, { outcome: 'ok' });
    return content;
  } catch (error) {
    deps.metrics?.add('HomeViews', 1, { outcome: 'error' });
    throw error;
  }
}

/** `app_home_opened`: the person's own Home, built now (and remembered, so changes rebuild it). */
export async function openHome(
  deps: HomeRefreshDeps,
  publisher: HomePublisher,
  userId: string,
): Promise<HomeContent> {
  const now = deps.clock();
  noHomeSince.delete(userId);
  const created = await deps.store.createAll(
    [newHome(userId, now) as unknown as Record<string, unknown>],
    [],
  );
  if (!created) await deps.store.patch(keys.home(userId), { openedAt: now.toISOString() });
  const home = (await deps.store.get<HomeItem>(keys.home(userId)))!;
  return publishHome(deps, publisher, home);
}

/**
 * Builds a Home again (one of its items changed): only for a person who has opened it. A failure is
 * tried again by a later sweep (due HOME, backing off), a few times; then the next open rebuilds it.
 */
export async function refreshHome(
  deps: HomeRefreshDeps,
  publisher: HomePublisher,
  userId: string,
): Promise<'published' | 'not-open' | 'failed'> {
  const home = await deps.store.get<HomeItem>(keys.home(userId));
  if (!home) return 'not-open';
  try {
    await publishHome(deps, publisher, home);
    return 'published';
  } catch (error) {
    const attempts = (home.refreshAttempts ?? 0) + 1;
    deps.logger.warn({ slackUser: userId, attempts, err: describeError(error) }, 'home tab not published');
    const again = attempts < MAX_REFRESH_ATTEMPTS;
    await deps.store.patch(
      keys.home(userId),
      { refreshAttempts: again ? attempts : 0 },
      again ? { kind: 'HOME', at: plusSeconds(deps.clock(), backoffSeconds(attempts, 60, 900)) } : null,
    );
    return 'failed';
  }
}

/** The item an audit entry is about, as stored now (violations, grants and runs only). */
async function itemOf(deps: HomeDeps, entry: AuditEntry): Promise<Record<string, unknown> | undefined> {
  const key =
    entry.subjectType === 'violation'
      ? keys.violation(entry.subjectId)
      : entry.subjectType === 'grant'
        ? keys.grant(entry.subjectId)
        : entry.subjectType === 'run'
          ? keys.run(entry.subjectId)
          : null;
  if (!key) return undefined;
  return ((await deps.store.get(key)) as unknown as Record<string, unknown> | null) ?? undefined;
}

/** The people whose Home shows the item an audit entry is about (before any read of who opened theirs). */
export async function concernedUsers(
  deps: HomeDeps,
  entry: AuditEntry,
  item: Record<string, unknown> | undefined,
): Promise<string[]> {
  const users = new Set<string>();
  if (entry.actorType === 'slack-user') users.add(entry.actorId);
  if (item?.type === 'violation') {
    const v = item as unknown as ViolationItem;
    for (const user of Object.values(deps.config.decisions.principalToSlack))
      if (isOwnChange(deps, v, user)) users.add(user);
    const { revokers, approvers } = decidersFor(v, deps.config);
    for (const list of [revokers, approvers]) {
      for (const user of list.users) users.add(user);
      for (const group of list.userGroups) {
        const members = await deps.directory.membersOf(group).catch(() => []);
        for (const user of members) users.add(user);
      }
    }
  } else if (item?.type === 'grant' && typeof item.userId === 'string') {
    users.add(item.userId);
  } else if (item?.type === 'run') {
    const run = item as unknown as RunItem;
    users.add(run.requestedBy);
    const approvers = specOf(deps.config, run)?.approvers;
    for (const user of approvers?.users ?? []) users.add(user);
    for (const group of approvers?.userGroups ?? []) {
      const members = await deps.directory.membersOf(group).catch(() => []);
      for (const user of members) users.add(user);
    }
  }
  return [...users].filter((u) => /^[UW][A-Z0-9]{2,}$/.test(u)).slice(0, MAX_CONCERNED);
}

/**
 * The changes each invocation makes (every audit entry with its item, as the store hands them on), kept
 * apart per invocation (`collect`) until it ends and the Homes they concern are rebuilt: collected
 * without I/O. Outside `collect` nothing is kept. A job the Slack door runs in-process collects in its
 * own scope, so the door never flushes (reads) what its job changed.
 */
export class HomeChanges {
  private readonly scope = new AsyncLocalStorage<{ entry: AuditEntry; item?: Record<string, unknown> }[]>();

  /** Runs `fn` with its own list of changes; `take` inside it answers that list. */
  collect<T>(fn: () => Promise<T>): Promise<T> {
    return this.scope.run([], fn);
  }

  note(entry: AuditEntry, item?: Record<string, unknown>): void {
    if (!['violation', 'grant', 'run'].includes(entry.subjectType)) return;
    const pending = this.scope.getStore();
    if (pending && pending.length < 200) pending.push({ entry, ...(item ? { item } : {}) });
  }

  take(): { entry: AuditEntry; item?: Record<string, unknown> }[] {
    const pending = this.scope.getStore();
    return pending ? pending.splice(0) : [];
  }
}

/**
 * After an invocation: every person whose Home one of its changes concerns and who has opened it is
 * made due (HOME) for the sweeper — or, where this function may read everything a Home shows (`rebuild`),
 * built at once. Never fails the invocation: a failure is logged.
 */
export async function flushHomeChanges(
  deps: HomeRefreshDeps,
  publisher: HomePublisher,
  changes: HomeChanges,
  options: { rebuild: boolean },
): Promise<void> {
  const taken = changes.take();
  if (taken.length === 0) return;
  try {
    const users = new Set<string>();
    for (const { entry, item } of taken) {
      // A new item's entry comes without the item (createAll): read it, to know whose it is.
      const subject = item ?? (await itemOf(deps, entry));
      for (const user of await concernedUsers(deps, entry, subject)) users.add(user);
    }
    for (const userId of users) {
      if (knownWithoutHome(userId)) continue;
      const home = await deps.store.get<HomeItem>(keys.home(userId));
      if (!home) {
        noHomeSince.set(userId, Date.now());
        continue;
      }
      if (options.rebuild) await refreshHome(deps, publisher, userId);
      else await deps.store.patch(keys.home(userId), {}, { kind: 'HOME', at: deps.clock().toISOString() });
    }
  } catch (error) {
    deps.logger.warn({ err: describeError(error) }, 'home tabs not refreshed');
  }
}

/** The sweeper's HOME work: a Home whose items changed where it could not be built at once. */
export function homeDueHandlers(deps: HomeRefreshDeps, publisher: HomePublisher): Record<'HOME', DueHandler> {
  return {
    HOME: async (item, now) => {
      await refreshHome({ ...deps, clock: () => now }, publisher, (item as HomeItem).userId);
    },
  };
}
