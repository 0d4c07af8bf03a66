import type { RuleFacts } from '../shared/model';
import type { AwsTarget, PrefixListReader } from '../shared/ports';

/**
 * A reader that asks EC2 once per list (account, region, ID) for as long as it lives: build one per
 * invocation, so one event (or one batch) never reads the same list twice, and no list is believed
 * longer than that.
 */
export function cachedPrefixLists(reader: PrefixListReader): PrefixListReader {
  const cache = new Map<string, Promise<string[]>>();
  return {
    prefixListEntries(target, prefixListId) {
      const key = `${target.account}/${target.region}/${prefixListId}`;
      let entries = cache.get(key);
      if (!entries) {
        entries = reader.prefixListEntries(target, prefixListId);
        cache.set(key, entries);
        // A failed read is not kept: the next ask tries again.
        entries.catch(() => cache.delete(key));
      }
      return entries;
    },
    // Who uses a list is asked only when the list changes: once per event, nothing to keep.
    groupsUsingPrefixList: (target, prefixListId) => reader.groupsUsingPrefixList(target, prefixListId),
  };
}

/**
 * The entries of every prefix list these rules name, read in the rules' account and region: what
 * `evaluate()` takes as `prefixLists`. The same call serves an event naming a rule and an edit of the
 * list itself (prefix-list-changes.ts), so both judge a list the same way.
 */
export async function prefixListEntriesFor(
  reader: PrefixListReader,
  target: AwsTarget,
  rules: readonly RuleFacts[],
): Promise<Record<string, string[]>> {
  const ids = [...new Set(rules.filter((r) => r.sourceKind === 'prefix-list').map((r) => r.source))];
  const lists = await Promise.all(ids.map((id) => reader.prefixListEntries(target, id)));
  return Object.fromEntries(ids.map((id, i) => [id, lists[i]!]));
}
