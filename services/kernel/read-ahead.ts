import { type ItemKey, keyId, type StateStore, type StoredItem, type Transition } from './state';

/**
 * A view of the store that has already read `wanted` in one batch (getMany): `get` of one of those keys
 * answers what the batch found (or null) without a call, any other key is read as usual, and every
 * write goes to the store and forgets the batch's answer for what it wrote. For one step's reads made
 * before its writes (detection's own-rule records, exceptions and rule claims): the conditional writes
 * after it still decide every race.
 */
export async function readAhead(store: StateStore, wanted: readonly ItemKey[]): Promise<StateStore> {
  if (wanted.length === 0) return store;
  const found = await store.getMany<StoredItem>(wanted);
  const known = new Set(wanted.map(keyId));
  const forget = (key: ItemKey | Record<string, unknown>) => {
    known.delete(keyId(key as ItemKey));
    found.delete(keyId(key as ItemKey));
  };
  /** Every item a transition writes: its own, the ones it puts and the ones it patches. */
  const forgetWrites = (t: Transition) => {
    forget(t.key);
    for (const item of t.alsoPut ?? []) forget(item);
    for (const patch of t.alsoPatch ?? []) forget(patch.key);
  };
  return {
    get: async <T extends StoredItem>(key: ItemKey) =>
      known.has(keyId(key)) ? ((found.get(keyId(key)) as T | undefined) ?? null) : store.get<T>(key),
    getMany: (keys) => store.getMany(keys),
    createAll: (items, audits) => {
      for (const item of items) forget(item);
      return store.createAll(items, audits);
    },
    transition: (t) => {
      forgetWrites(t);
      return store.transition(t);
    },
    move: (t) => {
      forgetWrites(t);
      return store.move(t);
    },
    patch: (key, set, due) => {
      forget(key);
      return store.patch(key, set, due);
    },
    queryDue: (kind, until, limit) => store.queryDue(kind, until, limit),
    queryByStatus: (type, status, limit) => store.queryByStatus(type, status, limit),
    appendAudit: (entry) => store.appendAudit(entry),
    auditFor: (subjectId) => store.auditFor(subjectId),
    auditSince: (since, until) => store.auditSince(since, until),
  };
}
