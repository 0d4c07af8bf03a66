import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { DueKind, StateStore, StoredItem } from './state';

/** Handles one due item. Must be safe to run twice (every transition is conditional). */
export type DueHandler = (item: StoredItem, now: Date) => Promise<void>;

export interface SweepOptions {
  /** Items read per due kind per sweep. */
  limit?: number;
  /** Due items handled at once. */
  concurrency?: number;
  /** Per-kind override of `concurrency` (e.g. 1 for posting to a rate-limited chat channel). */
  concurrencyByKind?: Partial<Record<DueKind, number>>;
}

export interface SweepSummary {
  [kind: string]: { due: number; ok: number; failed: number };
}

/** Runs `task` over `items` with at most `concurrency` at once; one failure never stops the rest. */
export async function mapSettled<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<PromiseSettledResult<void>[]> {
  const results: PromiseSettledResult<void>[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      try {
        await task(items[index]!);
        results[index] = { status: 'fulfilled', value: undefined };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  });
  await Promise.all(workers);
  return results;
}

/**
 * One sweep: for each registered due kind, Query the `due` index for items due by `now` (never a Scan)
 * and hand each to its handler with bounded concurrency. Returns how many were due, handled and failed.
 */
export async function sweep(
  deps: { store: StateStore; logger: Logger },
  handlers: Partial<Record<DueKind, DueHandler>>,
  now: Date,
  options: SweepOptions = {},
): Promise<SweepSummary> {
  const limit = options.limit ?? 200;
  const concurrency = options.concurrency ?? 8;
  const summary: SweepSummary = {};
  for (const [kind, handle] of Object.entries(handlers) as [DueKind, DueHandler][]) {
    const due = await deps.store.queryDue(kind, now.toISOString(), limit);
    const results = await mapSettled(due, options.concurrencyByKind?.[kind] ?? concurrency, (item) =>
      handle(item, now),
    );
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    for (const f of failed) deps.logger.error({ kind, err: describeError(f.reason) }, 'due item failed');
    summary[kind] = { due: due.length, ok: due.length - failed.length, failed: failed.length };
  }
  return summary;
}
