import type { AuditEntry, StoredAuditEntry } from '../../services/kernel/audit';
import {
  type DueKind,
  type ItemKey,
  keyId,
  type StateStore,
  type StoredItem,
  type Transition,
} from '../../services/kernel/state';
import { StateConflictError } from '../../services/shared/errors';

type Item = Record<string, unknown> & { pk: string; sk: string };

const clone = <T>(value: T): T => structuredClone(value);

function stripUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/**
 * An in-memory StateStore for pure unit tests, with the same conditional semantics as the DynamoDB
 * adapter: transitions check status (and version), alsoPut items must not exist (or not be live),
 * and a failed condition throws StateConflictError with nothing written.
 */
export class MemoryStateStore implements StateStore {
  readonly items = new Map<string, Item>();
  readonly audits: StoredAuditEntry[] = [];
  private seq = 0;
  /** Set to make the next transitions matching it throw (simulates a process dying before the write). */
  failTransition: ((t: Transition) => boolean) | null = null;

  private id(key: ItemKey): string {
    return keyId(key);
  }

  async get<T extends StoredItem>(key: ItemKey): Promise<T | null> {
    const item = this.items.get(this.id(key));
    return item ? (clone(item) as unknown as T) : null;
  }

  async getMany<T extends StoredItem>(wanted: readonly ItemKey[]): Promise<Map<string, T>> {
    const found = new Map<string, T>();
    for (const key of wanted) {
      const item = await this.get<T>(key);
      if (item) found.set(keyId(key), item);
    }
    return found;
  }

  async move(t: Transition): Promise<void> {
    await this.transition(t);
  }

  async createAll(items: Record<string, unknown>[], audits: AuditEntry[]): Promise<boolean> {
    if (items.some((i) => this.items.has(this.id(i as Item)))) return false;
    for (const i of items) this.items.set(this.id(i as Item), clone(stripUndefined(i)) as Item);
    for (const a of audits) this.pushAudit(a);
    return true;
  }

  async transition<T extends StoredItem>(t: Transition): Promise<T> {
    if (this.failTransition?.(t)) throw new Error('simulated write failure');
    const item = this.items.get(this.id(t.key));
    const conflict = () => new StateConflictError(`${t.key.pk} is no longer in state ${t.from.join(' or ')}`);
    if (!item || !t.from.includes(item.status as string)) throw conflict();
    if (t.expectVersion !== undefined && item.version !== t.expectVersion) throw conflict();
    for (const put of t.alsoPut ?? []) {
      const existing = this.items.get(this.id(put as Item));
      if (!existing) continue;
      const r = t.alsoPutReplaces;
      const replaceable =
        r !== undefined &&
        (existing.status !== r.unlessStatus ||
          (r.expiredBy !== undefined &&
            typeof existing.expiresAt === 'string' &&
            existing.expiresAt <= r.expiredBy));
      if (!replaceable) throw conflict();
    }
    if ((t.alsoPatch ?? []).some((p) => !this.items.has(this.id(p.key)))) throw conflict();
    for (const p of t.alsoPatch ?? [])
      Object.assign(this.items.get(this.id(p.key))!, stripUndefined(clone(p.set)));
    const next: Item = { ...item, ...stripUndefined(clone(t.set ?? {})), status: t.to };
    next.version = (item.version as number) + 1;
    for (const r of t.remove ?? []) delete next[r];
    delete next.dueKind;
    delete next.dueAt;
    if (t.due) Object.assign(next, { dueKind: t.due.kind, dueAt: t.due.at });
    this.items.set(this.id(t.key), next);
    for (const put of t.alsoPut ?? [])
      this.items.set(this.id(put as Item), clone(stripUndefined(put)) as Item);
    if (t.audit) this.pushAudit(t.audit);
    return clone(next) as unknown as T;
  }

  async patch(key: ItemKey, set: Record<string, unknown>, due?: { kind: DueKind; at: string } | null) {
    const item = this.items.get(this.id(key));
    if (!item) throw new Error('no such item');
    Object.assign(item, stripUndefined(clone(set)));
    if (due) Object.assign(item, { dueKind: due.kind, dueAt: due.at });
    if (due === null) {
      delete item.dueKind;
      delete item.dueAt;
    }
  }

  async queryDue<T extends StoredItem>(kind: DueKind, until: string, limit: number): Promise<T[]> {
    return [...this.items.values()]
      .filter((i) => i.dueKind === kind && (i.dueAt as string) <= until)
      .sort((a, b) => String(a.dueAt).localeCompare(String(b.dueAt)))
      .slice(0, limit)
      .map((i) => clone(i) as unknown as T);
  }

  async queryByStatus<T extends StoredItem>(type: string, status: string, limit: number): Promise<T[]> {
    return [...this.items.values()]
      .filter((i) => i.type === type && i.status === status)
      .slice(0, limit)
      .map((i) => clone(i) as unknown as T);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.pushAudit(entry);
  }

  async auditFor(subjectId: string): Promise<StoredAuditEntry[]> {
    return this.audits.filter((a) => a.subjectId === subjectId).map(clone);
  }

  async *auditSince(since: string, until = new Date().toISOString()): AsyncIterable<StoredAuditEntry> {
    for (const a of [...this.audits].sort((x, y) => x.entryId.localeCompare(y.entryId))) {
      if (a.at >= since && a.at <= until) yield clone(a);
    }
  }

  private pushAudit(entry: AuditEntry): void {
    this.seq += 1;
    this.audits.push({
      ...clone(stripUndefined(entry as never)),
      entryId: `${entry.at}#${String(this.seq).padStart(8, '0')}`,
    } as StoredAuditEntry);
  }
}
