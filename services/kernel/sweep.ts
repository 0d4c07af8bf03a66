import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { type DueKind, keyId, type StateStore, type StoredItem } from './state';

/** Handles one due item. Must be safe to run twice (every transition is conditional). */
export type DueHandler = ((item: StoredItem, now: Date) => Promise<void>) & {
  /** Called with each page of due items before they are handled (e.g. to read what they need in one batch). */
  page?: (items: StoredItem[], now: Date) => Promise<void>;
};

export interface SweepOptions {
  /** Items read per due kind per sweep. */
  limit?: number;
  /** Due items handled at once. */
  concurrency?: number;
  /** Per-kind override of `concurrency` (e.g. 1 for posting to a rate-limited chat channel). */
  concurrencyByKind?: Partial<Record<DueKind, number>>;
  /**
   * Kinds read page after page (each `limit` long) until none is left due, or until `budgetMs` after the
   * sweep began no further page is read; every other kind: one page per sweep.
   */
  drain?: { kinds: readonly DueKind[]; budgetMs: number; nowMs?: () => number };
}

export interface SweepSummary {
  /** `doneAtMs`: when the kind's work ended, counted from the sweep's start. */
  [kind: string]: { due: number; ok: number; failed: number; doneAtMs: number };
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
  const nowMs = options.drain?.nowMs ?? Date.now;
  const startedAt = nowMs();
  const summary: SweepSummary = {};
  for (const [kind, handle] of Object.entries(handlers) as [DueKind, DueHandler][]) {
    const drains = options.drain?.kinds.includes(kind) ?? false;
    // Items handled this sweep: one that stays due (its handler failed) or that the index still shows
    // (it lags a write) is not handled twice, and a page of nothing new ends the draining.
    const handled = new Set<string>();
    let due = 0;
    let failed = 0;
    for (;;) {
      const page = await deps.store.queryDue(kind, now.toISOString(), limit);
      const fresh = page.filter((item) => !handled.has(keyId(item)));
      for (const item of fresh) handled.add(keyId(item));
      // A page's reads made at once; should they fail, each item reads for itself.
      if (fresh.length > 0)
        await handle.page?.(fresh, now).catch((error: unknown) => {
          deps.logger.warn({ kind, err: describeError(error) }, 'page reads failed; each item reads its own');
        });
      const results = await mapSettled(fresh, options.concurrencyByKind?.[kind] ?? concurrency, (item) =>
        handle(item, now),
      );
      const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      for (const f of rejected) deps.logger.error({ kind, err: describeError(f.reason) }, 'due item failed');
      due += fresh.length;
      failed += rejected.length;
      const more = drains && page.length === limit && fresh.length > 0;
      if (!more || nowMs() - startedAt >= (options.drain?.budgetMs ?? 0)) break;
    }
    summary[kind] = { due, ok: due - failed, failed, doneAtMs: nowMs() - startedAt };
  }
  return summary;
}
