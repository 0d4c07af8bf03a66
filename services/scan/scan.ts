import { cachedPrefixLists } from '../detection/prefix-lists';
import { auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import { keys, tryTransition } from '../kernel/state';
import { mapSettled } from '../kernel/sweep';
import { backoffSeconds, plusSeconds } from '../kernel/time';
import { AwsCallError, describeError } from '../shared/errors';
import type { AwsTarget, PrefixListReader } from '../shared/ports';
import {
  addTotals,
  chunksToJudge,
  decideCursor,
  isThrottling,
  NO_TOTALS,
  newCursor,
  newRunId,
  noticeMarkerName,
  type ScanCursorItem,
  type ScanTotals,
  scanTargets,
  summaryOf,
  type TargetProgress,
  targetKey,
} from './plan';
import type { ScanDeps } from './ports';
import { announceRaised, regradeRisen, type ScannedGroup, scanGroup } from './treat';

/** Groups whose rules one DescribeSecurityGroupRules call asks for (its group-id filter; EC2 takes 200 values). */
export const GROUPS_PER_CHUNK = 100;
/** Accounts × regions read at once; within each, `scan.concurrency` reads. */
const TARGETS_AT_ONCE = 4;
/** Tries of a throttled call, waiting 1 s, 2 s, 4 s, … (at most 20 s) between them. */
const THROTTLE_TRIES = 6;
/** A run's hold on the cursor: longer than the function's timeout, so a dead invocation's hold runs out. */
export const LEASE_SECONDS = 16 * 60;
/** How long a day's notice marker is kept (DynamoDB TTL). */
const NOTICE_MARKER_SECONDS = 3 * 86_400;

export interface ScanOptions {
  /** Time the invocation has left (Lambda's context.getRemainingTimeInMillis). */
  remainingMs: () => number;
  /** No new chunk of groups starts with less time than this left. Default 60 s. */
  reserveMs?: number;
}

/** What one invocation did: finished the run, paused it to resume, or found another invocation on it. */
export interface ScanOutcome {
  state: 'done' | 'paused' | 'busy';
  runId: string | null;
  totals: ScanTotals;
  /** Accounts and regions that could not be read in this invocation. */
  newErrors: number;
  /** The run's summary (when done). */
  summary?: ReturnType<typeof summaryOf>;
}

class Stop extends Error {}

/** Calls `call` again while AWS throttles it, backing off; counts every call made. */
async function withBackoff<T>(
  deps: ScanDeps,
  counter: { calls: number },
  call: () => Promise<T>,
): Promise<T> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    counter.calls++;
    try {
      return await call();
    } catch (error) {
      if (!isThrottling(error) || attempt >= THROTTLE_TRIES) throw error;
      // Jitter spreads the regions' retries apart.
      await sleep(backoffSeconds(attempt, 1, 20) * 1000 * (0.5 + Math.random() / 2));
    }
  }
}

/** The regions to read: the config's, or every region enabled in the bot's own account. */
async function regionsToScan(deps: ScanDeps, counter: { calls: number }): Promise<string[]> {
  const configured = deps.config.scan.regions;
  if (configured) return configured;
  return withBackoff(deps, counter, () => deps.inventory.enabledRegions());
}

/** Takes the cursor for this invocation: a new run, or the paused (or orphaned) one. Null: another holds it. */
async function takeCursor(deps: ScanDeps, counter: { calls: number }): Promise<ScanCursorItem | null> {
  const { store } = deps;
  const now = deps.clock();
  const cursor = await store.get<ScanCursorItem>(keys.scanCursor());
  const decision = decideCursor(cursor, now);
  if (decision === 'busy') return null;
  if (decision === 'resume' && cursor) {
    return tryTransition<ScanCursorItem>(store, {
      key: keys.scanCursor(),
      from: [cursor.status],
      to: 'RUNNING',
      expectVersion: cursor.version,
      set: { leaseUntil: plusSeconds(now, LEASE_SECONDS), invocations: cursor.invocations + 1 },
      due: null,
      audit: null,
    });
  }
  const targets = scanTargets(
    deps.accounts,
    deps.config.accounts.watched,
    await regionsToScan(deps, counter),
  );
  const fresh = newCursor(newRunId(now), targets, now, LEASE_SECONDS);
  if (!cursor) {
    return (await store.createAll([fresh as unknown as Record<string, unknown>], [])) ? fresh : null;
  }
  const { pk: _pk, sk: _sk, type: _type, status: _status, version: _version, ...rest } = fresh;
  return tryTransition<ScanCursorItem>(store, {
    key: keys.scanCursor(),
    from: ['DONE'],
    to: 'RUNNING',
    expectVersion: cursor.version,
    set: rest,
    remove: ['finishedAt', 'pausedBecause'],
    due: null,
    audit: null,
  });
}

/** Logs, audits and (once per target per day) tells the alert channel that a target could not be read. */
async function reportUnreadable(
  deps: ScanDeps,
  runId: string,
  target: AwsTarget,
  error: unknown,
): Promise<void> {
  const why = describeError(error);
  const now = deps.clock();
  deps.logger.warn(
    { runId, account: target.account, region: target.region, err: why },
    'scan could not read a target',
  );
  await deps.store.appendAudit(
    auditEntry({ id: runId, type: 'scan' }, SYSTEM_ACTOR, {
      action: 'scan',
      fromState: null,
      toState: null,
      result: 'error',
      error: why,
      details: { account: target.account, region: target.region },
      at: now.toISOString(),
    }),
  );
  const first = await deps.store.createAll(
    [
      {
        ...keys.marker(noticeMarkerName(target, now)),
        type: 'marker',
        runId,
        createdAt: now.toISOString(),
        expiresAtEpoch: Math.floor(now.getTime() / 1000) + NOTICE_MARKER_SECONDS,
      },
    ],
    [],
  );
  if (!first) return;
  try {
    await deps.scanNotifier.postUnreadable(deps.config.slack.alertChannel, { ...target, runId, error: why });
  } catch (err) {
    deps.logger.warn({ runId, err: describeError(err) }, 'scan problem not posted');
  }
}

/**
 * The reconciliation scan: reads every rule of every group in every watched account and region
 * (DescribeSecurityGroups and DescribeSecurityGroupRules, paged, throttling retried with backoff), judges
 * each as event detection would (exemption tags by who set them, severity graded by the group's exposure),
 * and raises a violation for each violating rule that is not already open (nor kept, nor sg-warden's own),
 * with its backstop, posted as detection posts (digests for a burst); a group whose exposure rose above
 * what sg-warden recorded for its rules is re-graded. Resumable: progress is kept in the cursor item after every chunk of
 * groups, and an invocation that runs short of time pauses the run for the next one to resume (no
 * duplicates: a group judged twice finds its alert, and every rule's claim decides). A target that cannot
 * be read is reported and the rest goes on.
 */
export async function runScan(deps: ScanDeps, options: ScanOptions): Promise<ScanOutcome> {
  const counter = { calls: 0 };
  let cursor = await takeCursor(deps, counter);
  if (!cursor) {
    deps.logger.info({}, 'a scan is already running; this invocation leaves it to it');
    return { state: 'busy', runId: null, totals: { ...NO_TOTALS }, newErrors: 0 };
  }
  const runId = cursor.runId;
  const log = deps.logger.child({ runId });
  const reserveMs = options.reserveMs ?? 60_000;
  const timeUp = () => options.remainingMs() < reserveMs;
  const prefixLists: PrefixListReader = cachedPrefixLists(deps.prefixLists);
  let totals = cursor.totals;
  let newErrors = 0;
  let paused = false;
  const targets = { ...cursor.targets };
  // One writer of the cursor at a time: progress saves are chained.
  let saving: Promise<void> = Promise.resolve();
  const save = (progress: TargetProgress, more: Partial<ScanTotals>) => {
    targets[targetKey(progress)] = { ...progress };
    totals = addTotals(totals, more);
    const snapshot = { targets: { ...targets }, totals: { ...totals } };
    saving = saving.then(() => deps.store.patch(keys.scanCursor(), snapshot));
    return saving;
  };

  const scanTarget = async (start: TargetProgress): Promise<void> => {
    const target: AwsTarget = { account: start.account, region: start.region };
    const progress = { ...start };
    const calls = { calls: 0 };
    try {
      for (;;) {
        if (timeUp()) throw new Stop();
        const page = await withBackoff(deps, calls, () =>
          deps.inventory.groupsPage(target, progress.pageToken),
        );
        const chunks = chunksToJudge(page.groups, progress.doneThrough, GROUPS_PER_CHUNK);
        for (let i = 0; i < chunks.length; i += deps.config.scan.concurrency) {
          if (timeUp()) throw new Stop();
          const wave = chunks.slice(i, i + deps.config.scan.concurrency);
          const more: Partial<ScanTotals> = { rulesRead: 0, groups: 0, violationsRaised: 0, alreadyKnown: 0 };
          const scanned: ScannedGroup[] = [];
          const results = await mapSettled(wave, wave.length, async (chunk) => {
            const { rules, calls: made } = await withBackoff(deps, calls, () =>
              deps.inventory.rulesOfGroups(
                target,
                chunk.map((g) => g.groupId),
              ),
            );
            calls.calls += made - 1;
            more.rulesRead! += rules.length;
            more.groups! += chunk.length;
            for (const group of chunk) {
              const own = rules.filter((r) => r.groupId === group.groupId);
              const done = await scanGroup(deps, runId, target, group, own, prefixLists);
              scanned.push(done);
              more.violationsRaised! += done.raised;
              more.alreadyKnown! += done.known;
            }
          });
          // What the wave raised is posted (digests for a burst) even when a chunk failed; the sweeper
          // posts whatever a crash leaves unposted.
          await announceRaised(deps, scanned);
          const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed) throw failed.reason;
          await regradeRisen(deps, runId, target, scanned);
          progress.doneThrough = wave.at(-1)!.at(-1)!.groupId;
          await save(progress, { ...more, awsCalls: calls.calls });
          calls.calls = 0;
        }
        if (!page.nextToken) {
          progress.state = 'done';
          await save(progress, { awsCalls: calls.calls });
          return;
        }
        progress.pageToken = page.nextToken;
        progress.doneThrough = null;
        await save(progress, { awsCalls: calls.calls });
        calls.calls = 0;
      }
    } catch (error) {
      if (error instanceof Stop) {
        paused = true;
        return;
      }
      if (!(error instanceof AwsCallError)) throw error;
      newErrors++;
      progress.state = 'error';
      progress.error = describeError(error);
      await save(progress, { errors: 1, awsCalls: calls.calls });
      await reportUnreadable(deps, runId, target, error);
    }
  };

  try {
    const todo = Object.values(targets).filter((t) => t.state === 'todo');
    const results = await mapSettled(todo, TARGETS_AT_ONCE, scanTarget);
    await saving;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (error) {
    // Let the next invocation (Lambda's retry, the continuation or the schedule) resume at once.
    await saving.catch(() => {});
    await release(deps, 'error');
    throw error;
  }
  const regionCalls = counter.calls;
  if (regionCalls > 0) {
    totals = addTotals(totals, { awsCalls: regionCalls });
    await deps.store.patch(keys.scanCursor(), { totals });
  }
  cursor = { ...cursor, targets, totals };
  if (paused) {
    await release(deps, 'paused');
    log.info({ totals }, 'scan paused: out of time; the next invocation resumes it');
    if (deps.continuation) {
      try {
        await deps.continuation.continueScan();
      } catch (error) {
        // The schedule resumes it instead.
        log.warn({ err: describeError(error) }, 'scan continuation not started');
      }
    }
    return { state: 'paused', runId, totals, newErrors };
  }
  return finish(deps, cursor, newErrors);
}

/** Gives the cursor up (RUNNING → PAUSED) so another invocation may take it at once. */
async function release(deps: ScanDeps, why: 'paused' | 'error'): Promise<void> {
  await tryTransition(deps.store, {
    key: keys.scanCursor(),
    from: ['RUNNING'],
    to: 'PAUSED',
    set: { leaseUntil: deps.clock().toISOString(), pausedBecause: why },
    due: null,
    audit: null,
  }).catch((error) => deps.logger.warn({ err: describeError(error) }, 'scan cursor not released'));
}

/** Ends the run: the cursor goes DONE with the summary as its one audit entry, and one log line. */
async function finish(deps: ScanDeps, cursor: ScanCursorItem, newErrors: number): Promise<ScanOutcome> {
  const now = deps.clock();
  const summary = summaryOf(cursor, now);
  const unreadable = Object.values(cursor.targets)
    .filter((t) => t.state === 'error')
    .map((t) => `${t.account}/${t.region}`);
  await tryTransition(deps.store, {
    key: keys.scanCursor(),
    from: ['RUNNING'],
    to: 'DONE',
    set: { finishedAt: now.toISOString(), leaseUntil: now.toISOString() },
    due: null,
    audit: auditEntry({ id: cursor.runId, type: 'scan' }, SYSTEM_ACTOR, {
      action: 'scan',
      fromState: 'RUNNING',
      toState: 'DONE',
      result: 'ok',
      details: { ...summary, unreadable },
      at: now.toISOString(),
    }),
  });
  deps.logger.info({ scan: summary, unreadable }, 'scan finished');
  return { state: 'done', runId: cursor.runId, totals: cursor.totals, newErrors, summary };
}
